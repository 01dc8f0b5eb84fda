# FLatten-Swin-T ImageNet-1k classifier for mmpretrain (top-1 82.1, 29M params, 224px):
# focused linear attention over the stage map in stages 1-2, shifted 7x7 windows in
# 3-4 (LLSS). The classifier's final LayerNorm is the backbone's norm3. Like the
# published classifier, stage 4's 7x7 map is one unshifted window: pad_small_map=False.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmagent.FLattenSwinTransformer', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.2, pad_small_map=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://flatten_swin_t_in1k?target=mmpretrain'))
