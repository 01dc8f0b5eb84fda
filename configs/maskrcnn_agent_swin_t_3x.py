# Mask R-CNN + Agent-Swin-T, COCO 3x with multi-scale + crop (box AP 47.3 / mask AP 42.7).
_base_ = ['./maskrcnn_agent_swin_t.py', './_base_/coco_ms_crop_3x.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.ms_crop_train_pipeline}}))
train_cfg = dict(max_epochs={{_base_.schedule_3x_epochs}})
param_scheduler = {{_base_.schedule_3x}}
