# Agent-DeiT-S ImageNet-1k classifier for mmpretrain (top-1 80.5, 22.7M params, 224px):
# agent attention with 49 agents in all 12 blocks.
_base_ = './agent_deit_t_in1k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1), head=dict(in_channels=384),
    init_cfg=dict(checkpoint='mmagent://agent_deit_s_in1k?target=mmpretrain'))
