# The quick start: configs/fpn_agent_pvt_t.py on the synthetic ADE20K-style set that
# `python tools/make_toy_data.py ade data/toy_ade` writes (background + 3 shape
# classes, 224x160 images), from random initialisation, sized for 2 CPU cores.
_base_ = '../fpn_agent_pvt_t.py'

data_root = 'data/toy_ade/'
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle'), palette=[(0, 0, 0),
                                                                     (220, 20, 60),
                                                                     (0, 130, 220),
                                                                     (250, 170, 30)])
img_scale = (224, 160)

model = dict(
    data_preprocessor=dict(size=(160, 224)),
    backbone=dict(init_cfg=None, drop_path_rate=0.0), decode_head=dict(num_classes=4))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
_dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
                img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=False)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
        _delete_=True, **_dataset, pipeline=train_pipeline,
        data_prefix=dict(img_path='images/training',
                         seg_map_path='annotations/training')))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False, dataset=dict(
        _delete_=True, **_dataset, pipeline=test_pipeline,
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation')))
test_dataloader = val_dataloader
del _dataset

iters = 150
train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=iters, by_epoch=False)
]
optim_wrapper = dict(optimizer=dict(lr=1e-3))
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(by_epoch=False, interval=iters,
                                              max_keep_ckpts=1))
