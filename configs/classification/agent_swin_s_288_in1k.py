# Agent-Swin-S at 288 px, ImageNet-1k classifier for mmpretrain (top-1 84.1, 50M params).
# Agent biases are sized for the 72x72 stage-1 map; window blocks use 9x9 windows.
_base_ = './agent_swin_s_in1k.py'

model = dict(
    backbone=dict(pretrain_img_size=288, window_size=9),
    init_cfg=dict(checkpoint='mmagent://agent_swin_s_288_in1k?target=mmpretrain'))

# The authors' evaluation at this size: resize to 288x288, no crop.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=288, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
