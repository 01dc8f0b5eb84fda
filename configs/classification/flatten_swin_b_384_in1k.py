# FLatten-Swin-B at 384 px, ImageNet-1k classifier for mmpretrain (top-1 85.0, 91M
# params): the linear stages' positional encodings are sized for the 96x96 / 48x48 maps;
# window blocks use 12x12 windows.
_base_ = './flatten_swin_b_in1k.py'

model = dict(
    backbone=dict(pretrain_img_size=384, window_size=12),
    init_cfg=dict(checkpoint='mmagent://flatten_swin_b_384_in1k?target=mmpretrain'))

# The authors' evaluation at this size (TEST.CROP False): resize to 384x384, no crop.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
