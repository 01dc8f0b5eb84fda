# Agent-PVT-T ImageNet-1k classifier for mmpretrain (top-1 78.4, 11.6M params, 224px).
# The published ImageNet weights load through the zoo (head.* -> head.fc.*): evaluate
# with tools/test.py, or fine-tune with tools/train.py. At 224 px the agent grids are
# the pretraining ones: square roots of the agent counts.
_base_ = './_base_/imagenet_classifier.py'

model = dict(
    backbone=dict(type='mmagent.AgentPVT', arch='tiny', out_indices=(3, ),
                  drop_path_rate=0.1, downstream_agent_shapes=[(3, 3), (4, 4), (7, 7),
                                                               (7, 7)]),
    head=dict(in_channels=512),
    init_cfg=dict(type='Pretrained',
                  checkpoint='mmagent://agent_pvt_t_in1k?target=mmpretrain'))
