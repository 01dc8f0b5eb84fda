# Mask R-CNN + FLatten-Swin-T, COCO 1x. The authors published FLatten ImageNet weights
# only: this config starts from them; no detection weights or results exist.
# Recipe (mmdet's Swin-T 1x): AdamW lr 1e-4, wd 0.05, no decay on norms, position
# tables and positional encodings; 12 epochs, steps at 8 and 11; drop path 0.2 (the
# ImageNet run's). Stages 1-2 attend over the whole map, linear in its size.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.FLattenSwinTransformer', arch='tiny',
        drop_path_rate=0.2, init_cfg=dict(type='Pretrained',
                                          checkpoint='mmagent://flatten_swin_t_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=dict(positional_encoding=dict(decay_mult=0.))))
