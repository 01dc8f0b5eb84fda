# FLatten-Swin-T ImageNet-1k classifier for mmpretrain (top-1 82.1, 29M params, 224px):
# focused linear attention over the stage map in stages 1-2, shifted 7x7 windows in
# 3-4 (LLSS). The classifier's final LayerNorm is the backbone's norm3. Like the
# published classifier, stage 4's 7x7 map is one unshifted window: pad_small_map=False.
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.FLattenSwinTransformer', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.2, pad_small_map=False), head=dict(in_channels=768),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://flatten_swin_t_in1k?target=mmpretrain'))
