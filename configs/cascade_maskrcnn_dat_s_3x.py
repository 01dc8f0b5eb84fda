# Cascade Mask R-CNN + DAT-S++, COCO 3x (box AP 54.2 / mask AP 46.9). The authors'
# recipe (DAT-Detection configs/dat/cmrcn_small_3x_4n_dp05_lr4.py): AdamW lr 4e-4, wd
# 0.05, no decay on norms and position tables; DETR-style multi-scale + crop; 3x (36
# epochs, steps 27 and 33), 500-iteration warm-up; drop path 0.5; gradient
# checkpointing; 2 images per GPU.
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', './_base_/dat_coco.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)


def _box_head(stds):
    return dict(
        type='ConvFCBBoxHead', num_shared_convs=4, num_shared_fcs=1, in_channels=256,
        conv_out_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=80,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=stds), reg_class_agnostic=False,
        reg_decoded_bbox=True, norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                      loss_weight=1.0), loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


model = dict(
    backbone=dict(_delete_=True, type='mmagent.DAT', arch='small', drop_path_rate=0.5,
                  with_cp=True, init_cfg=dict(type='Pretrained',
                                              checkpoint='mmagent://dat_s_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]), roi_head=dict(bbox_head=[
        _box_head([0.1, 0.1, 0.2, 0.2]),
        _box_head([0.05, 0.05, 0.1, 0.1]),
        _box_head([0.033, 0.033, 0.067, 0.067]),
    ]))
del _box_head

train_dataloader = dict(batch_size=2,
                        dataset=dict(pipeline={{_base_.dat_mask_train_pipeline}}))

# Full precision (the published plain OptimizerHook).
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., custom_keys={{_base_.dat_no_decay}}))
train_cfg = dict(max_epochs=36)
param_scheduler = {{_base_.dat_schedule_3x}}
