# Cascade Mask R-CNN + Agent-Swin-B, COCO 3x (box AP 52.6 / mask AP 45.3, 145M params).
_base_ = './cascade_maskrcnn_agent_swin_t_3x.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.4,
                  init_cfg=dict(checkpoint='mmagent://agent_swin_b_in1k')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
