# FLatten-PVT-T ImageNet-1k classifier for mmpretrain (top-1 77.8, 12.2M params, 224px):
# focused linear attention in every stage (LLLL), mean pooling, no final norm.
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.FLattenPVT', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.1), head=dict(in_channels=512),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://flatten_pvt_t_in1k?target=mmpretrain'))
