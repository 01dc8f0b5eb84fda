"""Checkpoints in the layouts the authors published, built from a live model.

The published ImageNet weights were written by a timm-style trainer: the state dict
under ``model``, the backbone keys at top level, plus the classifier (``head.*``), the
final ``norm.*`` and, for Swin, derived buffers (``relative_position_index``,
``attn_mask``). Building such a file from a random model lets tests check that loading
maps every key without having the real (unreachable) files.
"""
import torch

from mmagent.models import AgentSwinTransformer


def published_classification_state(backbone, num_classes=1000):
    """The state dict an authors' ImageNet checkpoint of ``backbone`` would hold."""
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    c = backbone.embed_dims[-1]
    if isinstance(backbone, AgentSwinTransformer):
        # Classification Swin has one final norm and no per-stage output norms.
        for k in [k for k in state if k.split('.')[0] in ('norm0', 'norm1', 'norm2',
                                                           'norm3')]:
            del state[k]
        for name, module in backbone.named_modules():
            index = getattr(module, 'relative_position_index', None)
            if index is not None:
                state[f'{name}.relative_position_index'] = index.clone()
        # Swin classifies after a final LayerNorm; Agent-PVT mean-pools straight away.
        state['norm.weight'] = torch.ones(c)
        state['norm.bias'] = torch.zeros(c)
    state['head.weight'] = torch.randn(num_classes, c) * 0.02
    state['head.bias'] = torch.zeros(num_classes)
    return state
