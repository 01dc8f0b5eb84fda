# Mask R-CNN + MLLA-S, COCO 3x (box AP 50.5 / mask AP 44.9, 63M params).
_base_ = './maskrcnn_mlla_t_3x.py'

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint='mmagent://mlla_s_in1k')))
