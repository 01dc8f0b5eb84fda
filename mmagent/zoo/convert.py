"""Load published checkpoints safely and convert them for today's libraries.

Who wrote the published files (``Checkpoint Layout`` in the index):

* ``timm``: the ImageNet weights, state dict under ``model``, classifier ``head.*``
  (Agent-Swin also a final ``norm.*``).
* ``mmdet2``: mmdetection 2.x (``state_dict``, ``meta`` with ``CLASSES``, often
  ``optimizer``).
* ``mmseg0``: mmsegmentation 0.x, the same container.

Conversion keeps the weights and rewrites the container in MMEngine's form
(``state_dict`` + ``meta.dataset_meta``). Key changes it applies:

* derived buffers (Swin's ``relative_position_index``, ``attn_mask``) are dropped: the
  current modules rebuild them;
* head keys: for the heads the published models use (mmdet's RPN/RoI/mask heads,
  Cascade's 4conv1fc heads, RetinaNet's head; mmseg's UPerHead, FCNHead and FPNHead)
  the parameter names did not change between mmdet 2 and 3 or mmseg 0 and 1, so
  :data:`HEAD_RENAMES` is empty for them; it is where a renamed key would be mapped,
  and the tests check the result against models built from the configs (zero missing,
  zero unexpected keys);
* ImageNet weights for an mmpretrain ``ImageClassifier``: backbone keys under
  ``backbone.``, ``head.*`` -> ``head.fc.*``, the final ``norm.*`` -> ``backbone.norm3.*`` for
  the Swin and CSwin layouts, dropped for PVT v1 (unused there), kept for Agent-DeiT
  (:func:`final_norm_target`).

Loading never runs code from a file: ``torch.load(weights_only=True)`` always; a file
that needs anything beyond tensors, plain containers and the MMEngine data classes
mmagent allow-lists is refused with :class:`UnsafeCheckpointError`.
"""
import os
import os.path as osp
import pickle

import torch

from mmagent.models.checkpoint import clean_state_dict, unwrap_state_dict

#: (layout, compiled pattern, replacement) applied to every key, in order.
HEAD_RENAMES = {'mmdet2': [], 'mmseg0': []}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs classes beyond tensors and plain data: not loaded."""


def safe_load(path, map_location='cpu'):
    """``torch.load`` with ``weights_only=True`` and a clear refusal."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        detail = next((line for line in first if 'GLOBAL' in line or 'Unsupported' in line),
                      first[0] if first else type(e).__name__)
        raise UnsafeCheckpointError(
            f'{path}: refused to load: the file needs more than tensors and plain '
            f'containers ({detail.strip()}). mmagent never turns weights_only off '
            f'to load a checkpoint; if you trust the file, re-save its state dict as '
            f'plain tensors first.') from None


def _dataset_meta(ckpt):
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict):
        return {}
    classes = meta.get('CLASSES') or (meta.get('dataset_meta') or {}).get('classes')
    out = {}
    if classes is not None:
        out['classes'] = tuple(classes)
    if meta.get('PALETTE') is not None:
        out['palette'] = [tuple(p) for p in meta['PALETTE']]
    return out


def convert_state_dict(state, layout):
    """Key-level conversion of a published state dict to today's names."""
    out = {}
    for k, v in clean_state_dict(state).items():
        for pattern, repl in HEAD_RENAMES.get(layout, []):
            k = pattern.sub(repl, k)
        out[k] = v
    return out


def _imagenet_classes():
    """The 1000 ImageNet-1k class names as mmpretrain lists them (None without it)."""
    try:
        from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    except ImportError:
        return None
    return tuple(IMAGENET_CATEGORIES)


def final_norm_target(state):
    """Where a classifier's final ``norm.*`` goes in mmagent's backbones, by layout:
    ``'norm3'`` for the Swin layout (``layers.``: Agent-Swin, MLLA, FLatten-Swin) and
    the CSwin layout (``stage1.``: Agent-CSwin, FLatten-CSwin); ``None`` (dropped) for the
    PVT v1 layout (``pos_embed1``: Agent-PVT, FLatten-PVT), whose classifiers build a
    final norm but mean-pool without it; ``'norm'`` (kept) otherwise (Agent-DeiT)."""
    if any(k.startswith(('layers.', 'stage1.')) for k in state):
        return 'norm3'
    if 'pos_embed1' in state:
        return None
    return 'norm'


def to_mmpretrain(state):
    """ImageNet weights (timm layout) -> mmpretrain ImageClassifier keys."""
    if 'cls_head.weight' in state:  # DAT++ names its own (models/backbones/dat.py)
        from mmagent.models.backbones.dat import dat_to_mmpretrain
        return dat_to_mmpretrain(state)
    out = {}
    target = final_norm_target(state)
    for k, v in state.items():
        if k.startswith('head.'):
            out['head.fc.' + k[5:]] = v
        elif k.startswith('norm.'):
            if target is not None:
                out[f'backbone.{target}.' + k[5:]] = v
        else:
            out['backbone.' + k] = v
    return out


def convert_checkpoint(ckpt, layout, target='backbone'):
    """Convert a loaded published checkpoint.

    Args:
        ckpt (dict): What :func:`safe_load` returned.
        layout (str): ``'timm'``, ``'mmdet2'`` or ``'mmseg0'``.
        target (str): For ImageNet weights: ``'backbone'`` (the published keys, as
            backbone ``init_cfg`` expects) or ``'mmpretrain'`` (a whole classifier).

    Returns:
        dict: ``{'state_dict': ..., 'meta': {...}}``.
    """
    if layout not in ('timm', 'mmdet2', 'mmseg0'):
        raise ValueError(f'unknown checkpoint layout {layout!r}')
    state = convert_state_dict(unwrap_state_dict(ckpt), layout)
    meta = dict(converted_by='mmagent', source_layout=layout)
    if layout == 'timm':
        if target == 'mmpretrain':
            state = to_mmpretrain(state)
            classes = _imagenet_classes()
            if classes:  # so inferencers name the predicted classes
                meta['dataset_meta'] = dict(classes=classes)
    else:
        dataset_meta = _dataset_meta(ckpt)
        if dataset_meta:
            meta['dataset_meta'] = dataset_meta
    return dict(state_dict=state, meta=meta)


def converted_path(path, target='backbone'):
    stem, _ = osp.splitext(path)
    suffix = '' if target == 'backbone' else f'_{target}'
    return f'{stem}_mmagent{suffix}.pth'


def convert_file(src, dst, layout, target='backbone'):
    ckpt = safe_load(src)
    out = convert_checkpoint(ckpt, layout, target)
    tmp = dst + '.part'
    torch.save(out, tmp)
    os.replace(tmp, dst)
    return dst
