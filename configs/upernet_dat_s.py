# UperNet + DAT-S++, ADE20K 160k, 512x512 (mIoU 50.5 / 51.2 single / multi-scale). The
# authors' recipe (DAT-Segmentation configs/dat/upn_small_160k_dp05_lr6.py): AdamW lr
# 6e-5, wd 0.01, no decay on norms and position tables; poly schedule (power 1) after
# 1500 linear warm-up iterations; 8 GPUs x 2 images; drop path 0.5; gradient
# checkpointing; mixed precision (the published Fp16OptimizerHook).
_base_ = './upernet_dat_t.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.5,
                  init_cfg=dict(checkpoint='mmagent://dat_s_in1k')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
