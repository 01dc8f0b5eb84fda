# Cascade Mask R-CNN + DAT-T++, COCO 1x (box AP 52.2 / mask AP 45.0). The authors'
# recipe (DAT-Detection configs/dat/cmrcn_tiny_1x_4n_dp00_lr4.py): AdamW lr 4e-4, wd
# 0.05, no decay on norms and position tables; DETR-style multi-scale + crop; 1x (12
# epochs, steps 8 and 11), 500-iteration warm-up; drop path 0.0; gradient checkpointing;
# 2 images per GPU.
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', './_base_/dat_coco.py',
    './_base_/cascade_4conv1fc_heads.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='mmagent.DAT', arch='tiny', drop_path_rate=0.0,
                  with_cp=True, init_cfg=dict(type='Pretrained',
                                              checkpoint='mmagent://dat_t_in1k')),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head={{_base_.cascade_4conv1fc_bbox_heads}}))

train_dataloader = dict(batch_size=2,
                        dataset=dict(pipeline={{_base_.dat_mask_train_pipeline}}))

# Mixed precision (the published Fp16OptimizerHook, dynamic loss scale).
optim_wrapper = {{_base_.dat_mask_optim_wrapper}}
param_scheduler = {{_base_.dat_schedule_1x}}
