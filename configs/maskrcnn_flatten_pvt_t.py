# Mask R-CNN + FLatten-PVT-T, COCO 1x. The authors published FLatten ImageNet weights
# only: this config starts from them; no detection weights or results exist.
# Recipe (Agent-PVT-T's, i.e. PVT's): AdamW lr 2e-4, wd 1e-4; 12 epochs, steps at 8
# and 11; drop path 0.1.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.FLattenPVT', arch='tiny', drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://flatten_pvt_t_in1k')),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=1e-4))
