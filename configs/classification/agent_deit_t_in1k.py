# Agent-DeiT-T ImageNet-1k classifier for mmpretrain (top-1 74.9, 6.0M params, 224px):
# agent attention with 49 agents in all 12 blocks. The head reads the class token
# after the final norm.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmagent.AgentDeiT', arch='tiny', drop_path_rate=0.0),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://agent_deit_t_in1k?target=mmpretrain'))
