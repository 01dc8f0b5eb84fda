# Mask R-CNN + MLLA-S, COCO 1x (box AP 49.2 / mask AP 44.2, 63M params, 319G FLOPs).
_base_ = './maskrcnn_mlla_t.py'

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint='mmagent://mlla_s_in1k')))
