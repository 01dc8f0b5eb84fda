# DAT-T++ ImageNet-1k classifier for mmpretrain (top-1 83.9, 224 px; evaluated
# resize 256 + centre crop 224). The published classifier's cls_norm is the backbone's
# norms.3 and its cls_head the head's fc (the zoo converts the names).
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.DAT', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.2), head=dict(in_channels=512),
    init_cfg=dict(type='Pretrained', checkpoint='mmagent://dat_t_in1k?target=mmpretrain'))
