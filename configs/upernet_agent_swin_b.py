# UperNet + Agent-Swin-B, ADE20K 160k (mIoU 48.73 / mAcc 60.01, 121M params).
_base_ = './upernet_agent_swin_t.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5,
                  init_cfg=dict(checkpoint='mmagent://agent_swin_b_in1k')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
