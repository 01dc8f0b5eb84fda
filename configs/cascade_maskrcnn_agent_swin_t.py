# Cascade Mask R-CNN + Agent-Swin-T, COCO 1x (box AP 49.2 / mask AP 42.7, 86M params).
# The published recipe replaces the stock 2fc box heads with 4conv1fc heads (BN,
# GIoU loss on decoded boxes); AdamW lr 1e-4, wd 0.05, no decay on norms, position
# tables and agent biases; drop path 0.1.
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    './_base_/agent_swin_optim.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)


def _box_head(stds):
    return dict(
        type='ConvFCBBoxHead', num_shared_convs=4, num_shared_fcs=1, in_channels=256,
        conv_out_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=80,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=stds), reg_class_agnostic=False,
        reg_decoded_bbox=True, norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                      loss_weight=1.0), loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.AgentSwinTransformer', arch='tiny',
        drop_path_rate=0.1, downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_swin_t_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]), roi_head=dict(bbox_head=[
        _box_head([0.1, 0.1, 0.2, 0.2]),
        _box_head([0.05, 0.05, 0.1, 0.1]),
        _box_head([0.033, 0.033, 0.067, 0.067]),
    ]))
del _box_head

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={{_base_.agent_swin_no_decay}}))
