# FLatten-PVTv2-B0 ImageNet-1k classifier for mmpretrain (top-1 71.1, 3.6M params, 224px):
# focused linear attention in every stage (LLLL); the stage-4 LayerNorm (norm4), then
# mean pooling.
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.FLattenPVTv2', arch='b0', out_indices=(3, ),
                  drop_path_rate=0.1), head=dict(in_channels=256),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://flatten_pvt_v2_b0_in1k?target=mmpretrain'))
