# RetinaNet + Agent-PVT-L, COCO 1x (box AP 46.8, 58M params).
_base_ = './retinanet_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.3, init_cfg=dict(
        checkpoint='mmagent://agent_pvt_l_in1k')))
