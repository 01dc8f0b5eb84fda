# Mask R-CNN + Agent-PVT-S, COCO 1x (box AP 44.5 / mask AP 41.2, 40M params).
_base_ = './maskrcnn_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.2, init_cfg=dict(
        checkpoint='mmagent://agent_pvt_s_in1k')))
