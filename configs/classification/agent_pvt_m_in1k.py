# Agent-PVT-M ImageNet-1k classifier for mmpretrain (top-1 83.4, 35.9M params).
_base_ = './agent_pvt_t_in1k.py'

model = dict(
    backbone=dict(arch='medium', drop_path_rate=0.3),
    init_cfg=dict(checkpoint='mmagent://agent_pvt_m_in1k?target=mmpretrain'))
