# UperNet + Agent-Swin-T, ADE20K 160k, 512x512 (mIoU 46.68 / mAcc 58.53, 61M params).
# Recipe: AdamW lr 6e-5, wd 0.01, no decay on norms, position tables and agent biases;
# poly schedule with 1500 linear warm-up iterations; drop path 0.3; 8 GPUs x 2 images.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    './_base_/agent_swin_optim.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.AgentSwinTransformer', arch='tiny',
        drop_path_rate=0.3, downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_swin_t_in1k')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.agent_swin_no_decay}}))
