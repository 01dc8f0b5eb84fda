# Cascade Mask R-CNN + DAT-T++, COCO 3x (box AP 53.0 / mask AP 46.0). The authors'
# recipe (DAT-Detection configs/dat/cmrcn_tiny_3x_4n_dp01_lr4.py): AdamW lr 4e-4, wd
# 0.05, no decay on norms and position tables; DETR-style multi-scale + crop; 3x (36
# epochs, steps 27 and 33), 500-iteration warm-up; drop path 0.1; gradient
# checkpointing; 2 images per GPU.
_base_ = './cascade_maskrcnn_dat_t.py'

model = dict(backbone=dict(drop_path_rate=0.1))
train_cfg = dict(max_epochs=36)
param_scheduler = {{_base_.dat_schedule_3x}}
