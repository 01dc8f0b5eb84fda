# MLLA-S ImageNet-1k classifier for mmpretrain (top-1 84.4, 43M params).
_base_ = './mlla_t_in1k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.3),
    init_cfg=dict(checkpoint='mmagent://mlla_s_in1k?target=mmpretrain'))
