# Mask R-CNN + Agent-CSwin-T, COCO 1x. No downstream weights or results were published
# for Agent-CSwin: this config starts from the published ImageNet weights.
# Recipe (Agent-Swin-T's 1x): AdamW lr 1e-4, wd 0.05, no decay on norms and agent
# biases; 12 epochs, steps at 8 and 11; drop path 0.2 (the ImageNet run's).
# Stages 1-2 are agent attention over the whole map: their agent grids are those of
# Agent-PVT's whole-map detectors, (12, 12) and (16, 16).
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', './_base_/agent_swin_optim.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.AgentCSWin', arch='tiny', drop_path_rate=0.2,
        downstream_agent_shapes=[(12, 12), (16, 16), (7, 7), (7, 7)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_cswin_t_in1k')),
    neck=dict(in_channels=[64, 128, 256, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.agent_swin_no_decay}}))
