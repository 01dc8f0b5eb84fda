# Semantic FPN + DAT-S++, ADE20K "80k", 512x512 (mIoU 49.9 / 50.7 single / multi-scale).
# The authors' recipe (DAT-Segmentation configs/dat/fpn_small_80k_dp04_lr2.py): AdamW lr
# 2e-4, wd 1e-4, no decay on norms and position tables; poly schedule (power 0.9) over
# 40k iterations on 8 GPUs x 4 images (the stock 80k on 4 GPUs, halved); drop path 0.4;
# full precision.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, type='mmagent.DAT', arch='small', drop_path_rate=0.4,
                  init_cfg=dict(type='Pretrained', checkpoint='mmagent://dat_s_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4), paramwise_cfg=dict(
        custom_keys={
            k: dict(decay_mult=0.)
            for k in ('absolute_pos_embed', 'relative_position_bias_table', 'rpe_table',
                      'norm')
        }))

iters = 40000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=4000)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
train_dataloader = dict(batch_size=4)
