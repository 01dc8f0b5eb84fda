# DAT-B++ ImageNet-1k classifier for mmpretrain (top-1 84.9, 224 px; evaluated
# resize 256 + centre crop 224). The published classifier's cls_norm is the backbone's
# norms.3 and its cls_head the head's fc (the zoo converts the names).
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.DAT', arch='base', out_indices=(3, ),
                  drop_path_rate=0.7), head=dict(in_channels=1024),
    init_cfg=dict(type='Pretrained', checkpoint='mmagent://dat_b_in1k?target=mmpretrain'))
