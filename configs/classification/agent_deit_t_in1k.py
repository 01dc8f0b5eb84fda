# Agent-DeiT-T ImageNet-1k classifier for mmpretrain (top-1 74.9, 6.0M params, 224px):
# agent attention with 49 agents in all 12 blocks. The head reads the class token
# after the final norm.
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.AgentDeiT', arch='tiny',
                  drop_path_rate=0.), neck=None, head=dict(in_channels=192),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://agent_deit_t_in1k?target=mmpretrain'))
