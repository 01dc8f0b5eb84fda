# UperNet + DAT-B++, ADE20K 160k, 512x512 (mIoU 51.0 / 51.5 single / multi-scale). The
# authors' recipe (DAT-Segmentation configs/dat/upn_base_160k_dp07_lr6.py): AdamW lr
# 6e-5, wd 0.01, no decay on norms and position tables; poly schedule (power 1) after
# 1500 linear warm-up iterations; 8 GPUs x 2 images; drop path 0.7; gradient
# checkpointing; full precision.
_base_ = './upernet_dat_t.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.7,
                  init_cfg=dict(checkpoint='mmagent://dat_b_in1k')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))

# Full precision (the published plain OptimizerHook).
optim_wrapper = dict(type='OptimWrapper')
