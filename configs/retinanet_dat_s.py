# RetinaNet + DAT-S++, COCO 1x (box AP 48.3). The authors' recipe (DAT-Detection
# configs/dat/rtn_small_1x_4n_dp01_lr2.py): AdamW lr 2e-4, wd 0.05, no decay on norms
# and position tables; DETR-style multi-scale + crop; 1x (12 epochs, steps 8 and 11),
# 500-iteration warm-up; drop path 0.1; gradient checkpointing; 2 images per GPU.
# Published with out_indices (1, 2, 3) and FPN start_level 1 over four inputs; here the
# backbone returns the three maps and the FPN starts at its first input: the same layers
# under the same names.
_base_ = './retinanet_dat_t.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1,
                  init_cfg=dict(checkpoint='mmagent://dat_s_in1k')),
    neck=dict(in_channels=[192, 384, 768]))
