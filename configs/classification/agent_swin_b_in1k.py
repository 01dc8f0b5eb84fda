# Agent-Swin-B ImageNet-1k classifier for mmpretrain (top-1 84.0, 88M params).
_base_ = './agent_swin_t_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5), head=dict(in_channels=1024),
    init_cfg=dict(checkpoint='mmagent://agent_swin_b_in1k?target=mmpretrain'))
