# Agent-DeiT-S at 448 px, ImageNet-1k classifier for mmpretrain (top-1 83.1, 23.1M
# params): a 28x28 patch map, so pos_embed and the agent biases are sized for it.
_base_ = './agent_deit_s_in1k.py'

model = dict(
    backbone=dict(img_size=448),
    init_cfg=dict(checkpoint='mmagent://agent_deit_s_448_in1k?target=mmpretrain'))

# The authors' evaluation at this size: resize to 448x448, no crop.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=448, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
