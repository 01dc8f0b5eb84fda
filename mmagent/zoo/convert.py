"""Load published checkpoints safely and convert them for today's libraries.

Who wrote the published files (``Checkpoint Layout`` in the index):

* ``timm``: the ImageNet weights, state dict under ``model``, classifier ``head.*``
  (Agent-Swin also a final ``norm.*``).
* ``mmdet2``: mmdetection 2.x (``state_dict``, ``meta`` with ``CLASSES``, often
  ``optimizer``).
* ``mmseg0``: mmsegmentation 0.x, the same container.

Conversion keeps the weights and rewrites the container in MMEngine's form
(``state_dict`` + ``meta.dataset_meta``). Key changes it applies:

* what a checkpoint holds for a family is the family's own knowledge, asked of the
  backbone class the index entry's config names (:func:`family_of`): the buffers it
  derives (``derived_buffers``: Swin's ``relative_position_index`` / ``attn_mask``,
  MLLA's ``rope.rotations``) are dropped, and for an mmpretrain ``ImageClassifier`` its
  ``classifier_to_mmpretrain`` maps the keys (backbone keys under ``backbone.``,
  ``head.*`` -> ``head.fc.*``, the final ``norm.*`` to its ``classifier_norm``);
* head keys: for the heads the published models use (mmdet's RPN/RoI/mask heads,
  Cascade's 4conv1fc heads, RetinaNet's head; mmseg's UPerHead, FCNHead and FPNHead)
  the parameter names did not change between mmdet 2 and 3 or mmseg 0 and 1, so they
  are kept as they are (the tests check the result against models built from the
  configs: zero missing, zero unexpected keys).

A file converted without its family (``tools/convert_checkpoint.py --layout``, no
``--name``) drops the derived buffers of every family and cannot be turned into a
classifier (nothing is guessed from its keys).

Loading never runs code from a file: ``torch.load(weights_only=True)`` always; a file
that needs anything beyond tensors, plain containers and the MMEngine data classes
mmagent allow-lists is refused with :class:`UnsafeCheckpointError`.
"""
import functools
import os
import os.path as osp
import pickle

import torch

from mmagent.models.checkpoint import clean_state_dict, unwrap_state_dict


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs classes beyond tensors and plain data: not loaded."""


def safe_load(path, map_location='cpu'):
    """``torch.load`` with ``weights_only=True`` and a clear refusal."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        detail = next(
            (line for line in first if 'GLOBAL' in line or 'Unsupported' in line),
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


def family_class(family):
    """The backbone class of ``family`` (a registered type name or the class)."""
    if isinstance(family, type):
        return family
    from mmagent.registry import MODELS
    cls = MODELS.get(family) if isinstance(family, str) else None
    if cls is None or not hasattr(cls, 'classifier_to_mmpretrain'):
        raise ValueError(f'family {family!r} is not an mmagent backbone type')
    return cls


def family_of(entry):
    """The backbone class an index entry's config names (``model.backbone.type``), or
    None for an entry without a config."""
    if not entry.config_path:
        return None
    path = osp.abspath(entry.config_path)
    return family_class(_backbone_type(path, os.stat(path).st_mtime_ns))


@functools.lru_cache(maxsize=256)
def _backbone_type(path, mtime_ns):
    """``model.backbone.type`` of the config at ``path`` (as of ``mtime_ns``): parsing
    a config with ``mmpretrain::`` / ``mmdet::`` bases reads the package's whole model
    index, so each config is read once per process (every fetch asks again)."""
    from mmengine.config import Config
    return Config.fromfile(path, import_custom_modules=False).model.backbone.type


def _all_derived_buffers():
    from mmagent.models.hosts.base import BaseBackbone
    found, todo = set(), [BaseBackbone]
    while todo:
        cls = todo.pop()
        found.update(cls.derived_buffers)
        todo.extend(cls.__subclasses__())
    return tuple(sorted(found))


def convert_state_dict(state, layout, family=None):
    """Key-level conversion of a published state dict to today's names: the family's
    derived buffers (every family's when ``family`` is None) dropped."""
    derived = family_class(family).derived_buffers if family is not None else \
        _all_derived_buffers()
    return clean_state_dict(state, derived=derived)


def _imagenet_classes():
    """The 1000 ImageNet-1k class names as mmpretrain lists them (None without it)."""
    try:
        from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    except ImportError:
        return None
    return tuple(IMAGENET_CATEGORIES)


def convert_checkpoint(ckpt, layout, target='backbone', family=None):
    """Convert a loaded published checkpoint.

    Args:
        ckpt (dict): What :func:`safe_load` returned.
        layout (str): ``'timm'``, ``'mmdet2'`` or ``'mmseg0'``.
        target (str): For ImageNet weights: ``'backbone'`` (the published keys, as
            backbone ``init_cfg`` expects) or ``'mmpretrain'`` (a whole classifier).
            Defaults to ``'backbone'``.
        family (str | type, optional): The backbone type the file belongs to (e.g.
            ``'AgentSwinTransformer'``; the zoo passes the one its entry's config
            names). Needed for ``target='mmpretrain'``. Defaults to None.

    Returns:
        dict: ``{'state_dict': ..., 'meta': {...}}``.
    """
    if layout not in ('timm', 'mmdet2', 'mmseg0'):
        raise ValueError(f'unknown checkpoint layout {layout!r}')
    state = convert_state_dict(unwrap_state_dict(ckpt), layout, family)
    meta = dict(converted_by='mmagent', source_layout=layout)
    if layout == 'timm':
        if target == 'mmpretrain':
            if family is None:
                raise ValueError('family: converting ImageNet weights to an mmpretrain '
                                 'classifier needs the backbone type they belong to '
                                 "(e.g. family='AgentSwinTransformer'), or a zoo name")
            state = family_class(family).classifier_to_mmpretrain(state)
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


def convert_file(src, dst, layout, target='backbone', family=None):
    """:func:`convert_checkpoint` from file ``src`` to file ``dst`` (written whole
    or not at all); returns ``dst``."""
    ckpt = safe_load(src)
    out = convert_checkpoint(ckpt, layout, target, family)
    tmp = dst + '.part'
    torch.save(out, tmp)
    os.replace(tmp, dst)
    return dst
