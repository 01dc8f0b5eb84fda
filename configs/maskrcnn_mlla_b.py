# Mask R-CNN + MLLA-B, COCO 1x (box AP 50.5 / mask AP 45.0, 115M params, 502G FLOPs).
_base_ = './maskrcnn_mlla_t.py'

model = dict(
    backbone=dict(arch='base', init_cfg=dict(checkpoint='mmagent://mlla_b_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))
