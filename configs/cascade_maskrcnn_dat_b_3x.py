# Cascade Mask R-CNN + DAT-B++, COCO 3x (box AP 54.5 / mask AP 47.0). The authors'
# recipe (DAT-Detection configs/dat/cmrcn_base_3x_8n_dp08_lr4.py): AdamW lr 4e-4, wd
# 0.05, no decay on norms and position tables; DETR-style multi-scale + crop; 3x (36
# epochs, steps 27 and 33), 500-iteration warm-up; drop path 0.8; gradient
# checkpointing; 1 image per GPU.
_base_ = './cascade_maskrcnn_dat_s_3x.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.8,
                  init_cfg=dict(checkpoint='mmagent://dat_b_in1k')),
    neck=dict(in_channels=[128, 256, 512, 1024]))

train_dataloader = dict(batch_size=1)
