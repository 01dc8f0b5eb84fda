"""Checkpoint cleaning shared by the backbones' ``load_pretrained`` and the zoo's
converter: one place that knows how the published files wrap their weights."""
import re

__all__ = ['unwrap_state_dict', 'clean_state_dict', 'DERIVED_BUFFERS']

#: buffers the authors' modules saved but mmagent derives from the geometry of the
#: actual input: Swin's relative-position index and shift mask, MLLA's RoPE table
DERIVED_BUFFERS = re.compile(r'(^|\.)(relative_position_index|attn_mask|rope\.rotations)$')


def unwrap_state_dict(ckpt, source='checkpoint'):
    """The state dict of a checkpoint saved by timm-style trainers, mmengine or mmcv."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'{source}: expected a dict of tensors, got {type(ckpt).__name__}')
    for key in ('state_dict', 'model', 'module'):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    return ckpt


def clean_state_dict(state_dict, prefix=None):
    """Drop DataParallel's ``module.`` and the derived buffers; with ``prefix`` (e.g.
    ``'backbone.'``) keep only that part of a whole model when the file has one, with
    the prefix removed."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith('module.'):
            k = k[len('module.'):]
        if not DERIVED_BUFFERS.search(k):
            out[k] = v
    if prefix and any(k.startswith(prefix) for k in out):
        out = {k[len(prefix):]: v for k, v in out.items() if k.startswith(prefix)}
    return out
