# The box heads that the published Cascade Mask R-CNN recipes (Agent-Swin, DAT++) put in
# place of the stock 2fc heads: 4 convs (BN) + 1 fc, GIoU loss on decoded boxes, one
# head a cascade stage with that stage's target stds. A config plugs them in with
# roi_head=dict(bbox_head={{_base_.cascade_4conv1fc_bbox_heads}}).


def _box_head(stds):
    return dict(
        type='ConvFCBBoxHead', num_shared_convs=4, num_shared_fcs=1, in_channels=256,
        conv_out_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=80,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=stds), reg_class_agnostic=False,
        reg_decoded_bbox=True, norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                      loss_weight=1.0), loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


cascade_4conv1fc_bbox_heads = [
    _box_head([0.1, 0.1, 0.2, 0.2]),
    _box_head([0.05, 0.05, 0.1, 0.1]),
    _box_head([0.033, 0.033, 0.067, 0.067]),
]
del _box_head
