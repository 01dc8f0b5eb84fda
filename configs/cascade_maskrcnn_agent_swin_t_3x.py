# Cascade Mask R-CNN + Agent-Swin-T, COCO 3x, multi-scale + crop
# (box AP 51.4 / mask 44.5).
_base_ = ['./cascade_maskrcnn_agent_swin_t.py', './_base_/coco_ms_crop_3x.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.ms_crop_train_pipeline}}))
train_cfg = dict(max_epochs={{_base_.schedule_3x_epochs}})
param_scheduler = {{_base_.schedule_3x}}
