# Cascade Mask R-CNN + Agent-Swin-S, COCO 3x (box AP 52.6 / mask AP 45.5, 107M params).
_base_ = './cascade_maskrcnn_agent_swin_t_3x.py'

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint='mmagent://agent_swin_s_in1k')))
