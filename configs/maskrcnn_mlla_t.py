# Mask R-CNN + MLLA-T, COCO 1x (box AP 46.8 / mask AP 42.1, 44M params, 255G FLOPs).
# The authors' recipe: AdamW lr 1e-4, wd 0.05, no decay on norms; DETR-style
# multi-scale + crop augmentation even at 1x; 12 epochs, steps at 8 and 11; drop path 0.1.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', './_base_/coco_ms_crop_3x.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='mmagent.MLLA', arch='tiny', drop_path_rate=0.1,
                  init_cfg=dict(type='Pretrained', checkpoint='mmagent://mlla_t_in1k')),
    neck=dict(in_channels=[64, 128, 256, 512]))

train_dataloader = dict(dataset=dict(pipeline={{_base_.ms_crop_train_pipeline}}))
