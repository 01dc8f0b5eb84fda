# RetinaNet + Agent-PVT-S, COCO 1x (box AP 44.1, 30M params).
_base_ = './retinanet_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1, init_cfg=dict(
        checkpoint='mmagent://agent_pvt_s_in1k')))
