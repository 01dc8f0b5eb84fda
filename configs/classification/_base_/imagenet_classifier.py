# What every mmagent ImageNet classifier shares: mmpretrain's Swin-style ImageNet
# pipeline (resize 256, centre crop 224), AdamW schedule and runtime, and an
# ImageClassifier backbone -> global average pooling -> linear head over 1000 classes.
# A family's config sets the backbone, the head's in_channels and the weights.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier', neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
