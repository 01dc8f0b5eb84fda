# The quick start: configs/maskrcnn_agent_pvt_t.py on the synthetic COCO set that
# `python tools/make_toy_data.py coco data/toy_coco` writes (3 shape classes, 224x160
# images), from random initialisation, sized to train in minutes on 2 CPU cores.
_base_ = '../maskrcnn_agent_pvt_t.py'

data_root = 'data/toy_coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle'), palette=[(220, 20, 60), (0, 130, 220),
                                                       (250, 170, 30)])
img_scale = (224, 160)

# A handful of objects per image: far fewer proposals and sampled RoIs than COCO's
# 1000 / 512 keep the RoI heads (most of the CPU time) small.
model = dict(
    backbone=dict(init_cfg=None, drop_path_rate=0.0),
    roi_head=dict(bbox_head=dict(num_classes=3),
                  mask_head=dict(num_classes=3)), train_cfg=dict(
                      rpn_proposal=dict(nms_pre=500, max_per_img=100),
                      rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100), rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline,
                 filter_cfg=dict(filter_empty_gt=True, min_size=4)))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[9, 11],
         gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=3e-4))
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
