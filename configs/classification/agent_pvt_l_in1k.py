# Agent-PVT-L ImageNet-1k classifier for mmpretrain (top-1 83.7, 48.7M params).
_base_ = './agent_pvt_t_in1k.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.3),
    init_cfg=dict(checkpoint='mmagent://agent_pvt_l_in1k?target=mmpretrain'))
