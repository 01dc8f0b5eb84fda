# RetinaNet + Agent-PVT-M, COCO 1x (box AP 45.8, 46M params).
_base_ = './retinanet_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='medium', drop_path_rate=0.2, init_cfg=dict(
        checkpoint='mmagent://agent_pvt_m_in1k')))
