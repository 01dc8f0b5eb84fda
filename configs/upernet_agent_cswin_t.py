# UperNet + Agent-CSwin-T, ADE20K 160k, 512x512. No downstream weights or results were
# published for Agent-CSwin: this config starts from the published ImageNet weights.
# Recipe (Agent-Swin-T's): AdamW lr 6e-5, wd 0.01, no decay on norms and agent biases;
# poly schedule with 1500 linear warm-up iterations; drop path 0.3; 8 GPUs x 2 images.
# Stages 1-2 are agent attention over the whole map (128x128 and 64x64 here): agent
# grids (12, 12) and (16, 16), as Agent-PVT's whole-map dense models use.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    './_base_/agent_swin_optim.py'
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.AgentCSWin', arch='tiny', drop_path_rate=0.3,
        downstream_agent_shapes=[(12, 12), (16, 16), (7, 7), (7, 7)],
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_cswin_t_in1k')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.agent_swin_no_decay}}))
