# Semantic FPN + Agent-PVT-L, ADE20K 40k (mIoU 46.52 / mAcc 58.50, 52M params).
_base_ = './fpn_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='large', init_cfg=dict(checkpoint='mmagent://agent_pvt_l_in1k')))
