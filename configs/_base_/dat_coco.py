# The DAT++ COCO recipe (LeapLabTHU/DAT-Detection, configs/dat/*), under names that do
# not clash with the stock bases: AdamW wd 0.05 with no decay on norms and position
# tables (the neighborhood attention's ``rpb`` matches none of the names and is decayed,
# as published); DETR-style multi-scale + crop augmentation in every schedule, 1x
# included (the 3x recipe's augmentation, ./coco_ms_crop_3x.py); step schedules with a
# 500-iteration linear warm-up from 1e-3; the Mask / Cascade R-CNN optimizer (AdamW lr
# 4e-4, mixed precision as the published Fp16OptimizerHook).
_base_ = './coco_ms_crop_3x.py'

dat_no_decay = {
    k: dict(decay_mult=0.)
    for k in ('absolute_pos_embed', 'relative_position_bias_table', 'rpe_table', 'norm')
}
dat_mask_train_pipeline = {{_base_.ms_crop_train_pipeline}}
dat_box_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.ms_crop_augment}},
    dict(type='PackDetInputs'),
]
_warmup = dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500)
dat_schedule_1x = [
    _warmup,
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11],
         gamma=0.1),
]
dat_schedule_3x = [
    _warmup,
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]
dat_mask_optim_wrapper = dict(
    _delete_=True, type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., custom_keys=dat_no_decay))
