# UperNet + DAT-T++, ADE20K 160k, 512x512 (mIoU 49.4 / 50.3 single / multi-scale). The
# authors' recipe (DAT-Segmentation configs/dat/upn_tiny_160k_dp03_lr6.py): AdamW lr
# 6e-5, wd 0.01, no decay on norms and position tables; poly schedule (power 1) after
# 1500 linear warm-up iterations; 8 GPUs x 2 images; drop path 0.3; gradient
# checkpointing; mixed precision (the published Fp16OptimizerHook).
_base_ = [
    'mmseg::swin/'
    'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, type='mmagent.DAT', arch='tiny', drop_path_rate=0.3,
                  with_cp=True, init_cfg=dict(type='Pretrained',
                                              checkpoint='mmagent://dat_t_in1k')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))

optim_wrapper = dict(
    _delete_=True, type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999),
                   weight_decay=0.01), paramwise_cfg=dict(
                       custom_keys={
                           k: dict(decay_mult=0.)
                           for k in ('absolute_pos_embed', 'relative_position_bias_table',
                                     'rpe_table', 'norm')
                       }))
