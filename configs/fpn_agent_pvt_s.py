# Semantic FPN + Agent-PVT-S, ADE20K 40k (mIoU 44.18 / mAcc 56.17, 24M params).
_base_ = './fpn_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint='mmagent://agent_pvt_s_in1k')))
