# The DAT++ COCO recipe (LeapLabTHU/DAT-Detection, configs/dat/*), under names that do
# not clash with the stock bases: AdamW wd 0.05 with no decay on norms and position
# tables (the neighborhood attention's ``rpb`` matches none of the names and is decayed,
# as published); DETR-style multi-scale + crop augmentation in every schedule, 1x
# included; step schedules with a 500-iteration linear warm-up from 1e-3.
dat_no_decay = {
    k: dict(decay_mult=0.)
    for k in ('absolute_pos_embed', 'relative_position_bias_table', 'rpe_table', 'norm')
}
_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333), (640, 1333),
           (672, 1333), (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
_autoaugment = dict(
    type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize', scales=_scales, keep_ratio=True)],
        [
            dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333),
                                                    (600, 1333)], keep_ratio=True),
            dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
                 allow_negative_crop=True),
            dict(type='RandomChoiceResize', scales=_scales, keep_ratio=True),
        ],
    ])
dat_mask_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    _autoaugment,
    dict(type='PackDetInputs'),
]
dat_box_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    _autoaugment,
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
