# Agent-PVT-M at 256 px, ImageNet-1k classifier for mmpretrain (top-1 83.8, 36.1M params).
# Position embeddings and agent biases are sized for 256 px (64, 32, 16, 8 grids).
_base_ = './agent_pvt_m_in1k.py'

model = dict(
    backbone=dict(pretrain_img_size=256),
    init_cfg=dict(checkpoint='mmagent://agent_pvt_m_256_in1k?target=mmpretrain'))

# The authors' evaluation: resize the short side to 256 / 0.875, centre crop 256.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=292, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
