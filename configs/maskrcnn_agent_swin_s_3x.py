# Mask R-CNN + Agent-Swin-S, COCO 3x with multi-scale + crop (box AP 48.9 / mask AP 43.8).
_base_ = './maskrcnn_agent_swin_t_3x.py'

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint='mmagent://agent_swin_s_in1k')))
