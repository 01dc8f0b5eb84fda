# The quick start's classifier: configs/classification/agent_pvt_t_in1k.py on the
# synthetic class-folder set that `python tools/make_toy_data.py cls data/toy_cls`
# writes (circle / square / triangle, 64x64 images; mmpretrain's CustomDataset), from
# random initialisation, sized for 2 CPU cores.
_base_ = '../classification/agent_pvt_t_in1k.py'

data_root = 'data/toy_cls/'
classes = ('circle', 'square', 'triangle')

model = dict(
    backbone=dict(drop_path_rate=0.0, downstream_agent_shapes=[(2, 2)] * 4),
    head=dict(num_classes=3, topk=(1, )), init_cfg=None)
data_preprocessor = dict(num_classes=3)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
_dataset = dict(type='CustomDataset', data_root=data_root, classes=classes)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, **_dataset, data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, **_dataset, data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
del _dataset
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

epochs = 20
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
optim_wrapper = dict(optimizer=dict(lr=5e-4), clip_grad=None)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True, eta_min=1e-5)
]
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=epochs, max_keep_ckpts=1))
