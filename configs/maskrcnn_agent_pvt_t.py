# Mask R-CNN + Agent-PVT-T, COCO 1x (box AP 41.4 / mask AP 38.7, 31M params).
# Recipe: AdamW lr 2e-4, wd 1e-4; 12 epochs, steps at 8 and 11; drop path 0.1.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.AgentPVT', arch='tiny', drop_path_rate=0.1,
        downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_pvt_t_in1k')),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=1e-4))
