# FLatten-Swin-S ImageNet-1k classifier for mmpretrain (top-1 83.5, 51M params, 224px).
_base_ = './flatten_swin_t_in1k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.3),
    init_cfg=dict(checkpoint='mmagent://flatten_swin_s_in1k?target=mmpretrain'))
