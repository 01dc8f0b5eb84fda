# Mask R-CNN + MLLA-T, COCO 3x (box AP 48.8 / mask AP 43.8, 44M params).
# 36 epochs, steps at 27 and 33; drop path 0.3.
_base_ = './maskrcnn_mlla_t.py'

model = dict(backbone=dict(drop_path_rate=0.3))
train_cfg = dict(max_epochs={{_base_.schedule_3x_epochs}})
param_scheduler = {{_base_.schedule_3x}}
