# Cascade Mask R-CNN + Agent-Swin-T, COCO 1x (box AP 49.2 / mask AP 42.7, 86M params).
# The published recipe replaces the stock 2fc box heads with 4conv1fc heads (BN,
# GIoU loss on decoded boxes); AdamW lr 1e-4, wd 0.05, no decay on norms, position
# tables and agent biases; drop path 0.1.
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    './_base_/agent_swin_optim.py', './_base_/cascade_4conv1fc_heads.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.AgentSwinTransformer', arch='tiny',
        drop_path_rate=0.1, downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_swin_t_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]),
    roi_head=dict(bbox_head={{_base_.cascade_4conv1fc_bbox_heads}}))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={{_base_.agent_swin_no_decay}}))
