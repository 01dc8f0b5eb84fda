# Agent-CSwin-B at 384 px, ImageNet-1k classifier for mmpretrain (top-1 85.8, 73M params).
# Agent biases are sized for the 96x96 / 48x48 maps of stages 1-2; CSwin stripes are 12
# wide in stage 3.
_base_ = './agent_cswin_b_in1k.py'

model = dict(
    backbone=dict(pretrain_img_size=384, split_size=(1, 2, 12, 12), drop_path_rate=0.7),
    init_cfg=dict(checkpoint='mmagent://agent_cswin_b_384_in1k?target=mmpretrain'))

# The authors' evaluation at this size: resize to 384x384, no crop.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
