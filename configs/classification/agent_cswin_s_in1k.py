# Agent-CSwin-S ImageNet-1k classifier for mmpretrain (top-1 83.9, 33M params, 224px);
# Agent-CSwin-T's layout (AABB, agents 9-16-49-49, stripes 1-2-7-7), wider or deeper.
_base_ = './agent_cswin_t_in1k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.4), head=dict(in_channels=512),
    init_cfg=dict(checkpoint='mmagent://agent_cswin_s_in1k?target=mmpretrain'))
