# Mask R-CNN + Agent-PVT-L, COCO 1x (box AP 46.9 / mask AP 42.8, 68M params).
_base_ = './maskrcnn_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.2, init_cfg=dict(
        checkpoint='mmagent://agent_pvt_l_in1k')))
