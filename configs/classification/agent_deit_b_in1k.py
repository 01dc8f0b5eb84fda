# Agent-DeiT-B ImageNet-1k classifier for mmpretrain (top-1 82.0, 87.2M params, 224px):
# agent attention (81 agents) in the first 4 blocks, softmax after.
_base_ = './agent_deit_t_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.3), head=dict(in_channels=768),
    init_cfg=dict(checkpoint='mmagent://agent_deit_b_in1k?target=mmpretrain'))
