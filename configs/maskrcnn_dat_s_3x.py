# Mask R-CNN + DAT-S++, COCO 3x (box AP 51.2 / mask AP 45.7). The authors' recipe
# (DAT-Detection configs/dat/mrcn_small_3x_4n_dp05_lr4.py): AdamW lr 4e-4, wd 0.05, no
# decay on norms and position tables; DETR-style multi-scale + crop; 3x (36 epochs,
# steps 27 and 33), 500-iteration warm-up; drop path 0.5; gradient checkpointing; 2
# images per GPU.
_base_ = './maskrcnn_dat_s.py'

model = dict(backbone=dict(drop_path_rate=0.5))
train_cfg = dict(max_epochs=36)
param_scheduler = {{_base_.dat_schedule_3x}}
