# Mask R-CNN + DAT-T++, COCO 1x (box AP 48.7 / mask AP 43.7). The authors' recipe
# (DAT-Detection configs/dat/mrcn_tiny_1x_4n_dp00_lr4.py): AdamW lr 4e-4, wd 0.05, no
# decay on norms and position tables; DETR-style multi-scale + crop; 1x (12 epochs,
# steps 8 and 11), 500-iteration warm-up; drop path 0.0; gradient checkpointing; 2
# images per GPU.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/dat_coco.py']
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='mmagent.DAT', arch='tiny', drop_path_rate=0.0,
                  with_cp=True, init_cfg=dict(type='Pretrained',
                                              checkpoint='mmagent://dat_t_in1k')),
    # The authors' neck makes its fifth level with a conv on the last stage's map
    # (mmdet's Mask R-CNN default max-pools): the published files carry fpn_convs.4.
    neck=dict(in_channels=[64, 128, 256, 512], add_extra_convs='on_input'))

train_dataloader = dict(batch_size=2,
                        dataset=dict(pipeline={{_base_.dat_mask_train_pipeline}}))

# Mixed precision (the published Fp16OptimizerHook, dynamic loss scale).
optim_wrapper = {{_base_.dat_mask_optim_wrapper}}
param_scheduler = {{_base_.dat_schedule_1x}}
