# Semantic FPN + Agent-PVT-M, ADE20K 40k (mIoU 44.30 / mAcc 56.42, 40M params).
_base_ = './fpn_agent_pvt_t.py'

model = dict(
    backbone=dict(arch='medium', init_cfg=dict(checkpoint='mmagent://agent_pvt_m_in1k')))
