# UperNet + Agent-Swin-S, ADE20K 160k (mIoU 48.08 / mAcc 59.78, 81M params).
# The published UperNet-S uses a 7x7 agent grid in stage 3.
_base_ = './upernet_agent_swin_t.py'

model = dict(
    backbone=dict(arch='small', downstream_agent_shapes=[(9, 9), (12, 12), (7, 7), (
        7, 7)], init_cfg=dict(checkpoint='mmagent://agent_swin_s_in1k')))
