# Mask R-CNN + Agent-Swin-S, COCO 1x (box AP 47.2 / mask AP 42.7, 69M params).
_base_ = './maskrcnn_agent_swin_t.py'

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint='mmagent://agent_swin_s_in1k')))
