# FLatten-PVTv2-B0 ImageNet-1k classifier for mmpretrain (top-1 71.1, 3.6M params, 224px):
# focused linear attention in every stage (LLLL); the stage-4 LayerNorm (norm4), then
# mean pooling.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmagent.FLattenPVTv2', arch='b0', out_indices=(3, ),
                  drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://flatten_pvt_v2_b0_in1k?target=mmpretrain'))
