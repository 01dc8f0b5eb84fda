# Semantic FPN + DAT-S++, ADE20K "80k", 512x512 (mIoU 49.9 / 50.7 single / multi-scale).
# The authors' recipe (DAT-Segmentation configs/dat/fpn_small_80k_dp04_lr2.py): AdamW lr
# 2e-4, wd 1e-4, no decay on norms and position tables; poly schedule (power 0.9) over
# 40k iterations on 8 GPUs x 4 images (the stock 80k on 4 GPUs, halved); drop path 0.4;
# full precision.
_base_ = './fpn_dat_t.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.4,
                  init_cfg=dict(checkpoint='mmagent://dat_s_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))
