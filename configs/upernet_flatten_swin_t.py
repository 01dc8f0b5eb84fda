# UperNet + FLatten-Swin-T, ADE20K 160k, 512x512. FLatten ImageNet weights only were
# published: this config starts from them; no segmentation weights or results exist.
# Recipe (mmseg's Swin-T UperNet): AdamW lr 6e-5, wd 0.01, no decay on norms, position
# tables and positional encodings; poly schedule with 1500 warm-up iterations; drop
# path 0.3.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa: E501
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='mmagent.FLattenSwinTransformer', arch='tiny',
        drop_path_rate=0.3, init_cfg=dict(type='Pretrained',
                                          checkpoint='mmagent://flatten_swin_t_in1k')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=dict(positional_encoding=dict(decay_mult=0.))))
