# Agent-PVT-S ImageNet-1k classifier for mmpretrain (top-1 82.2, 20.6M params).
_base_ = './agent_pvt_t_in1k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.2),
    init_cfg=dict(checkpoint='mmagent://agent_pvt_s_in1k?target=mmpretrain'))
