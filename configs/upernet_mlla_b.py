# UperNet + MLLA-B, ADE20K 160k, 512x512 (mIoU 51.9 single-scale / 52.5 multi-scale,
# 128M params, 1183G FLOPs). The authors' recipe: AdamW lr 6e-5, wd 0.01, no decay on
# norms; poly schedule with 1500 linear warm-up iterations; drop path 0.5; 8 GPUs x 2.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa: E501
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='mmagent.MLLA', arch='base', drop_path_rate=0.5,
                  init_cfg=dict(type='Pretrained', checkpoint='mmagent://mlla_b_in1k')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
