# UperNet + DAT-B++, ADE20K 160k, 512x512 (mIoU 51.0 / 51.5 single / multi-scale). The
# authors' recipe (DAT-Segmentation configs/dat/upn_base_160k_dp07_lr6.py): AdamW lr
# 6e-5, wd 0.01, no decay on norms and position tables; poly schedule (power 1) after
# 1500 linear warm-up iterations; 8 GPUs x 2 images; drop path 0.7; gradient
# checkpointing; full precision.
_base_ = [
    'mmseg::swin/'
    'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, type='mmagent.DAT', arch='base', drop_path_rate=0.7,
                  with_cp=True, init_cfg=dict(type='Pretrained',
                                              checkpoint='mmagent://dat_b_in1k')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999),
                   weight_decay=0.01), paramwise_cfg=dict(
                       custom_keys={
                           k: dict(decay_mult=0.)
                           for k in ('absolute_pos_embed', 'relative_position_bias_table',
                                     'rpe_table', 'norm')
                       }))
