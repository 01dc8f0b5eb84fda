# Semantic FPN + DAT-B++, ADE20K "80k", 512x512 (mIoU 50.4 / 51.1 single / multi-scale).
# The authors' recipe (DAT-Segmentation configs/dat/fpn_base_80k_dp07_lr2.py): AdamW lr
# 2e-4, wd 1e-4, no decay on norms and position tables; poly schedule (power 0.9) over
# 40k iterations on 8 GPUs x 4 images (the stock 80k on 4 GPUs, halved); drop path 0.7;
# full precision.
_base_ = './fpn_dat_t.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.7,
                  init_cfg=dict(checkpoint='mmagent://dat_b_in1k')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
