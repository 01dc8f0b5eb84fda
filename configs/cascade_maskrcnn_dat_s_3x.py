# Cascade Mask R-CNN + DAT-S++, COCO 3x (box AP 54.2 / mask AP 46.9). The authors'
# recipe (DAT-Detection configs/dat/cmrcn_small_3x_4n_dp05_lr4.py): AdamW lr 4e-4, wd
# 0.05, no decay on norms and position tables; DETR-style multi-scale + crop; 3x (36
# epochs, steps 27 and 33), 500-iteration warm-up; drop path 0.5; gradient
# checkpointing; 2 images per GPU.
_base_ = './cascade_maskrcnn_dat_t_3x.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.5,
                  init_cfg=dict(checkpoint='mmagent://dat_s_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))

# Full precision (the published plain OptimizerHook).
optim_wrapper = dict(type='OptimWrapper')
