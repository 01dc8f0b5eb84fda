# Mask R-CNN + Agent-PVT-M, COCO 1x (box AP 45.9 / mask AP 42.0, 56M params).
_base_ = './maskrcnn_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='medium', drop_path_rate=0.1, init_cfg=dict(
        checkpoint='mmagent://agent_pvt_m_in1k')))
