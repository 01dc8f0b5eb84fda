# Agent-DeiT-B ImageNet-1k classifier for mmpretrain (top-1 82.0, 87.2M params, 224px):
# agent attention (81 agents) in the first 4 blocks, softmax after. The head reads the
# class token after the final norm.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmagent.AgentDeiT', arch='base', drop_path_rate=0.3),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://agent_deit_b_in1k?target=mmpretrain'))
