"""Checkpoint cleaning shared by the backbones' ``load_pretrained`` and the zoo's
converter: how published files wrap their weights. What a family knows about its own
keys (derived buffers, the classifier's final norm, its key prefixes) lives on the
family's host class (``derived_buffers``, ``classifier_norm``,
``checkpoint_filter``)."""

__all__ = ['unwrap_state_dict', 'clean_state_dict', 'drops_derived']


def unwrap_state_dict(ckpt, source='checkpoint'):
    """The state dict of a checkpoint saved by timm-style trainers, mmengine or mmcv."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'{source}: expected a dict of tensors, got '
                        f'{type(ckpt).__name__}')
    for key in ('state_dict', 'model', 'module'):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    return ckpt


def drops_derived(key, derived):
    """Whether ``key`` ends in one of the ``derived`` buffer names (``'attn_mask'``,
    ``'rope.rotations'``, ...), as a whole dotted component."""
    return any(key == d or key.endswith('.' + d) for d in derived)


def clean_state_dict(state_dict, prefix=None, derived=()):
    """Drop DataParallel's ``module.`` and the ``derived`` buffers (names a family
    rebuilds from the geometry, see ``derived_buffers`` of the hosts); with ``prefix``
    (e.g. ``'backbone.'``) keep only that part of a whole model when the file has one,
    with the prefix removed."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith('module.'):
            k = k[len('module.'):]
        if not drops_derived(k, derived):
            out[k] = v
    if prefix and any(k.startswith(prefix) for k in out):
        out = {k[len(prefix):]: v for k, v in out.items() if k.startswith(prefix)}
    return out
