# Agent-CSwin-T ImageNet-1k classifier for mmpretrain (top-1 83.1, 21M params, 224px).
# Attention types AABB: agent attention over the whole map in stages 1-2 (agents
# 9, 16), CSwin stripes (widths 1, 2, 7, 7) in stages 3-4. The classifier's final
# LayerNorm is the backbone's norm3 (norm.* -> backbone.norm3.*).
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.AgentCSWin', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.2), head=dict(in_channels=512),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://agent_cswin_t_in1k?target=mmpretrain'))
