# DAT-S++ ImageNet-1k classifier for mmpretrain (top-1 84.6, 224 px; evaluated
# resize 256 + centre crop 224). The published classifier's cls_norm is the backbone's
# norms.3 and its cls_head the head's fc (the zoo converts the names).
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.DAT', arch='small', out_indices=(3, ),
                  drop_path_rate=0.4), head=dict(in_channels=768),
    init_cfg=dict(type='Pretrained', checkpoint='mmagent://dat_s_in1k?target=mmpretrain'))
