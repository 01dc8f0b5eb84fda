# Agent-Swin-T ImageNet-1k classifier for mmpretrain (top-1 82.6, 29M params, 224px).
# The classifier's final LayerNorm is the backbone's norm3 (norm.* -> backbone.norm3.*).
# Like the published classifier, window blocks on a map that fits one window (stage 4
# at 224 px) shrink the window instead of padding and shifting: pad_small_map=False.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmagent.AgentSwinTransformer',
        arch='tiny',
        out_indices=(3, ),
        drop_path_rate=0.2,
        downstream_agent_shapes=[(3, 3), (4, 4), (7, 7), (7, 7)],
        pad_small_map=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://agent_swin_t_in1k?target=mmpretrain'))
