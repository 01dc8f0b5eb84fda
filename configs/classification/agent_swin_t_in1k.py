# Agent-Swin-T ImageNet-1k classifier for mmpretrain (top-1 82.6, 29M params, 224px).
# The classifier's final LayerNorm is the backbone's norm3 (norm.* -> backbone.norm3.*).
# Like the published classifier, window blocks on a map that fits one window (stage 4
# at 224 px) shrink the window instead of padding and shifting: pad_small_map=False.
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.AgentSwinTransformer', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.2, downstream_agent_shapes=[(3, 3), (4, 4), (7, 7),
                                                               (7, 7)],
                  pad_small_map=False), head=dict(in_channels=768),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://agent_swin_t_in1k?target=mmpretrain'))
