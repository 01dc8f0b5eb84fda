# Mask R-CNN + Agent-Swin-T, COCO 1x (box AP 44.6 / mask AP 40.7, 48M params).
# Recipe: AdamW lr 1e-4, wd 0.05, no decay on norms, position tables and agent biases;
# 12 epochs, steps at 8 and 11; drop path 0.1.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', './_base_/agent_swin_optim.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.AgentSwinTransformer', arch='tiny',
        drop_path_rate=0.1, downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_swin_t_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.agent_swin_no_decay}}))
