# Mask R-CNN + DAT-S++, COCO 1x (box AP 49.8 / mask AP 44.5). The authors' recipe
# (DAT-Detection configs/dat/mrcn_small_1x_4n_dp01_lr4.py): AdamW lr 4e-4, wd 0.05, no
# decay on norms and position tables; DETR-style multi-scale + crop; 1x (12 epochs,
# steps 8 and 11), 500-iteration warm-up; drop path 0.1; gradient checkpointing; 2
# images per GPU.
_base_ = './maskrcnn_dat_t.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1,
                  init_cfg=dict(checkpoint='mmagent://dat_s_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))
