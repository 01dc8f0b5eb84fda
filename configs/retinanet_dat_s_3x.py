# RetinaNet + DAT-S++, COCO 3x (box AP 50.2). The authors' recipe (DAT-Detection
# configs/dat/rtn_small_3x_4n_dp05_lr2.py): AdamW lr 2e-4, wd 0.05, no decay on norms
# and position tables; DETR-style multi-scale + crop; 3x (36 epochs, steps 27 and 33),
# 500-iteration warm-up; drop path 0.5; gradient checkpointing; 2 images per GPU.
# Published with out_indices (1, 2, 3) and FPN start_level 1 over four inputs; here the
# backbone returns the three maps and the FPN starts at its first input: the same layers
# under the same names.
_base_ = './retinanet_dat_s.py'

model = dict(backbone=dict(drop_path_rate=0.5))
train_cfg = dict(max_epochs=36)
param_scheduler = {{_base_.dat_schedule_3x}}
