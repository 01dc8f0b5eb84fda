"""Checkpoint cleaning shared by the backbones' ``load_pretrained`` and the zoo's
converter: how published files wrap their weights. What a family knows about its own
keys (derived buffers, the classifier's final norm, its key prefixes) lives on the
family's host class (``derived_buffers``, ``classifier_norm``,
``checkpoint_filter``)."""
import re

__all__ = [
    'unwrap_state_dict', 'clean_state_dict', 'drops_derived', 'check_finite',
    'check_loaded_fraction', 'best_matching_family', 'WrongWeightsError'
]


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


# -- checks before published weights are loaded into a backbone (issue 21) ------------
#: the share of a file's backbone tensors a model must take (same name, same shape)
#: for a load to count: less than a clear majority means the file is of another model
MIN_LOADED_FRACTION = 2 / 3
#: classifier keys of the published ImageNet files, which no backbone takes
CLASSIFIER_KEYS = re.compile(r'^(head|head_dist|norm|fc|pre_logits|classifier)\.')


class WrongWeightsError(ValueError):
    """A checkpoint is not one of this model's: it would leave the model mostly
    random, or it holds values no trained model has."""


def check_finite(state_dict, source):
    """Raise :class:`WrongWeightsError` naming the first tensor of ``state_dict``
    that holds NaN or infinity (the file of a diverged run, or a damaged one)."""
    import torch
    for k, v in state_dict.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and \
                not bool(torch.isfinite(v).all()):
            bad = 'NaN' if bool(torch.isnan(v).any()) else 'infinite'
            raise WrongWeightsError(
                f'{source}: tensor {k} holds {bad} values; the file is damaged or was '
                f'saved by a diverged run: use another checkpoint')


def _pattern(key):
    """A key with its block and stage numbers blanked: the shape of a family's names."""
    return re.sub(r'\.\d+(?=\.|$)', '.#', key)


_FAMILY_PATTERNS = {}


def _family_patterns():
    """``{class name: key patterns}`` of every mmagent backbone at its defaults (built
    once, on the error path only)."""
    if not _FAMILY_PATTERNS:
        from mmagent.models.hosts.base import BaseBackbone
        from mmagent.registry import MODELS
        for name, cls in sorted(MODELS.module_dict.items()):
            if not (isinstance(cls, type) and issubclass(cls, BaseBackbone)):
                continue
            try:
                keys = cls().state_dict()
            except Exception:  # noqa: BLE001  (a family that needs arguments)
                continue
            _FAMILY_PATTERNS[name] = {_pattern(k) for k in clean_state_dict(keys)}
    return _FAMILY_PATTERNS


def best_matching_family(state_dict):
    """(class name, share of the file's key patterns it has) of the mmagent backbone
    whose parameter names fit ``state_dict`` best."""
    want = {_pattern(k) for k in state_dict if not CLASSIFIER_KEYS.match(k)}
    if not want:
        return None, 0.
    scores = {
        name: (len(want & have) / len(want), len(want & have) / len(want | have))
        for name, have in _family_patterns().items()
    }
    best = max(scores, key=scores.get)
    return best, scores[best][0]


def describe_source(checkpoint, state_dict):
    """What a checkpoint holds: for ``mmagent://NAME`` the index entry's collection,
    for a file the best-matching mmagent backbone."""
    text = str(checkpoint)
    if text.startswith('mmagent://'):
        from mmagent.zoo.index import get_entry
        name = text[len('mmagent://'):].partition('?')[0]
        try:
            entry = get_entry(name)
        except KeyError:
            entry = None
        if entry is not None:
            return f'{entry.collection} weights (zoo entry {name})'
    family, share = best_matching_family(state_dict)
    if family is None:
        return 'no backbone weights'
    return f'weights best matching {family} ({share:.0%} of its parameter names)'


def check_loaded_fraction(model_name, checkpoint, file_state, matched):
    """Raise :class:`WrongWeightsError` when the model takes less than
    :data:`MIN_LOADED_FRACTION` of the file's backbone tensors.

    Args:
        model_name (str): The model's class name.
        checkpoint (str): Where the file came from (path, URL or ``mmagent://NAME``).
        file_state (dict): The file's cleaned state dict, before any filter.
        matched (Collection[str]): The keys the model takes (same name and shape).
    """
    usable = [k for k in file_state if not CLASSIFIER_KEYS.match(k)]
    if not usable or len(matched) >= MIN_LOADED_FRACTION * len(usable):
        return
    raise WrongWeightsError(
        f'{model_name}: {checkpoint} does not fit this model: it holds '
        f'{describe_source(checkpoint, file_state)}, and only {len(matched)} of its '
        f'{len(usable)} backbone tensors match {model_name}\'s names and shapes (another '
        f'family or size). Load {model_name} weights of the same size (`python '
        f'tools/download.py --list`).')
