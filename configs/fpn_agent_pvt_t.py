# Semantic FPN + Agent-PVT-T, ADE20K 40k, 512x512 (mIoU 40.18 / mAcc 51.76, 15M params).
# Recipe: AdamW lr 2e-4, wd 1e-4, poly schedule (power 0.9); 8 GPUs x 2 images.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    pretrained=None, backbone=dict(
        _delete_=True, type='mmagent.AgentPVT', arch='tiny', drop_path_rate=0.1,
        downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_pvt_t_in1k')),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))

iters = 40000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=4000)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
train_dataloader = dict(batch_size=2)
