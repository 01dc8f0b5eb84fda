# RetinaNet + DAT-T++, COCO 3x (box AP 49.2). The authors' recipe (DAT-Detection
# configs/dat/rtn_tiny_3x_4n_dp02_lr2.py): AdamW lr 2e-4, wd 0.05, no decay on norms and
# position tables; DETR-style multi-scale + crop; 3x (36 epochs, steps 27 and 33),
# 500-iteration warm-up; drop path 0.2; gradient checkpointing; 2 images per GPU.
# Published with out_indices (1, 2, 3) and FPN start_level 1 over four inputs; here the
# backbone returns the three maps and the FPN starts at its first input: the same layers
# under the same names.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/dat_coco.py']
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='mmagent.DAT', arch='tiny', out_indices=(1, 2, 3),
                  drop_path_rate=0.2, with_cp=True,
                  init_cfg=dict(type='Pretrained', checkpoint='mmagent://dat_t_in1k')),
    neck=dict(in_channels=[128, 256, 512], start_level=0, add_extra_convs='on_input'))

train_dataloader = dict(batch_size=2,
                        dataset=dict(pipeline={{_base_.dat_box_train_pipeline}}))

# Mixed precision (the published Fp16OptimizerHook, dynamic loss scale).
optim_wrapper = dict(
    _delete_=True, type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., custom_keys={{_base_.dat_no_decay}}))
train_cfg = dict(max_epochs=36)
param_scheduler = {{_base_.dat_schedule_3x}}
