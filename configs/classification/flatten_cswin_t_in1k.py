# FLatten-CSwin-T ImageNet-1k classifier for mmpretrain (top-1 83.1, 21M params, 224px):
# focused linear attention over the whole map in stages 1-2, CSwin stripes (1, 2, 7, 7)
# in 3-4 (LLSS). The classifier's final LayerNorm is the backbone's norm3.
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.FLattenCSWin', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.2), head=dict(in_channels=512),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://flatten_cswin_t_in1k?target=mmpretrain'))
