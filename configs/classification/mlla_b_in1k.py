# MLLA-B ImageNet-1k classifier for mmpretrain (top-1 85.3, 96M params).
_base_ = './mlla_t_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5), head=dict(in_channels=768),
    init_cfg=dict(checkpoint='mmagent://mlla_b_in1k?target=mmpretrain'))
