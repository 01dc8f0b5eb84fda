# MLLA-T ImageNet-1k classifier for mmpretrain (top-1 83.5, 24.4M params, 224px).
# The classifier's final LayerNorm is the backbone's norm3 (norm.* -> backbone.norm3.*).
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.MLLA', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.2), head=dict(in_channels=512),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://mlla_t_in1k?target=mmpretrain'))
