# DAT-B++ at 384 px, ImageNet-1k classifier for mmpretrain (top-1 85.9). As published,
# the position tables stay those of 224 px (img_size 224; they are sampled in
# normalised coordinates, so any input size works); drop path 0.6.
_base_ = './dat_b_in1k.py'

model = dict(
    backbone=dict(drop_path_rate=0.6),
    init_cfg=dict(checkpoint='mmagent://dat_b_384_in1k?target=mmpretrain'))

# The authors' evaluation at this size: resize to 384x384, no crop.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
