"""Checkpoints in the layouts the authors published, built from the committed key tables.

``tests/published_keys/NAME.json`` records, for every zoo entry, the key names and
shapes the authors' code saves (made once from the authors' repositories, not from
mmagent; see the README there) and how the file wraps them: ImageNet weights under
``model`` (a timm-style trainer: backbone keys at top level, ``head.*``, the final
``norm.*``, Swin's ``relative_position_index`` / ``attn_mask``, MLLA's RoPE table),
detectors and segmentors as mmdetection 2.x / mmsegmentation 0.x saved them
(``state_dict`` with ``backbone.`` / ``neck.`` / ``rpn_head.`` ... prefixes, ``meta``
with ``CLASSES``, an optimizer state).

The checkpoints built here hold exactly the table's keys with the table's shapes. Where a
model is given, a key that the model has under the same name and shape takes the model's
tensor (so a test can compare what was loaded with what was saved); every other key gets
a seeded tensor. A key mmagent names differently from the authors therefore fails the
loading tests (missing in the model, unexpected in the file) instead of passing
unnoticed, as it would if the file were made from mmagent's own ``state_dict()``.
"""
import copy
import glob
import json
import os.path as osp
import zlib

import torch

__all__ = [
    'TABLE_DIR', 'key_table', 'key_tables', 'find_table', 'published_state',
    'published_checkpoint', 'published_classification_state',
    'published_downstream_checkpoint'
]

#: the tables of a clone (a wheel does not carry ``tests/``)
TABLE_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tests',
    'published_keys')

_CACHE = {}


def key_tables(table_dir=None):
    """All tables of ``table_dir`` (default :data:`TABLE_DIR`), by zoo name.

    Args:
        table_dir (str, optional): Folder of ``NAME.json`` tables. Defaults to None
            (the clone's ``tests/published_keys``).

    Returns:
        dict: ``{name: table}``; the tables are shared, copy one before changing it.
    """
    table_dir = table_dir or TABLE_DIR
    if table_dir not in _CACHE:
        paths = sorted(glob.glob(osp.join(table_dir, '*.json')))
        if not paths:
            raise FileNotFoundError(
                f'table_dir {table_dir}: no published key tables (NAME.json) there; they '
                f'live in a clone, under tests/published_keys')
        tables = {}
        for path in paths:
            with open(path) as f:
                table = json.load(f)
            tables[table['name']] = table
        _CACHE[table_dir] = tables
    return _CACHE[table_dir]


def key_table(name, table_dir=None):
    """A copy of the table of zoo entry ``name`` (free to change in a test).

    Args:
        name (str): A zoo name, e.g. ``'agent_pvt_t_in1k'``.
        table_dir (str, optional): See :func:`key_tables`. Defaults to None.
    """
    tables = key_tables(table_dir)
    if name not in tables:
        raise KeyError(f'name {name!r}: no published key table in '
                       f'{table_dir or TABLE_DIR}')
    return copy.deepcopy(tables[name])


def find_table(model, layouts=('timm', ), table_dir=None):
    """The zoo name whose table is closest to ``model``'s keys and shapes.

    Only picks which table to build from: the checkpoint then holds the table's keys,
    so a model that names a key differently still fails to load it.

    Args:
        model (nn.Module): A backbone (for ``'timm'``) or a whole detector/segmentor.
        layouts (tuple[str]): Layouts to consider. Defaults to ``('timm', )``.
        table_dir (str, optional): See :func:`key_tables`. Defaults to None.
    """
    ours = {(k, tuple(v.shape)) for k, v in model.state_dict().items()}
    best, score = None, -1.0
    for name, table in key_tables(table_dir).items():
        if table['layout'] not in layouts or not table.get('keys'):
            continue
        theirs = {(k, tuple(s)) for k, s in table['keys'].items()}
        s = len(ours & theirs) / len(ours | theirs)
        if s > score:
            best, score = name, s
    if best is None:
        raise ValueError(f'layouts {layouts!r}: no published key table has that layout')
    return best


def _relative_position_index(shape):
    """Swin's relative-position index for an (N, N) buffer, N = window side squared."""
    side = int(round(shape[0]**0.5))
    coords = torch.stack(
        torch.meshgrid(torch.arange(side), torch.arange(side), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + side - 1
    return rel[..., 0] * (2 * side - 1) + rel[..., 1]


def _seeded(key, shape, dtype, seed, light):
    """A seeded tensor for ``key``: random values, or (``light``) one value per key
    broadcast to the shape (no memory: fast checks of names, shapes and mapping)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
    if dtype != torch.float32:
        if key.endswith('relative_position_index'):
            return _relative_position_index(shape)
        return torch.zeros(shape, dtype=dtype)
    if key.endswith('attn_mask'):
        return torch.zeros(shape)
    if light:
        return (torch.rand((), generator=gen) + 0.5).expand(shape)
    if key.endswith('running_var'):
        return torch.rand(shape, generator=gen) + 0.5
    return torch.randn(shape, generator=gen) * 0.02


def published_state(table, model=None, seed=0, light=False):
    """The state dict a published file of ``table`` holds.

    Args:
        table (dict | str): A table (:func:`key_table`) or a zoo name.
        model (nn.Module, optional): Keys it has under the table's name and shape (its
            state dict or, for buffers it does not save, its buffers) take its tensors.
            Defaults to None.
        seed (int): Seed of the other tensors. Defaults to 0.
        light (bool): Broadcast one seeded value per key instead of random tensors
            (for name/shape checks of the big models). Defaults to False.

    Returns:
        dict: Key -> tensor, in the table's order.
    """
    table = key_table(table) if isinstance(table, str) else table
    if not table.get('keys'):
        raise ValueError(f'table {table["name"]}: no file of its own (published: '
                         f'{table["published"]}); it starts from '
                         f'{table.get("init_from")}')
    have = {}
    if model is not None:
        have = dict(model.named_buffers())
        have.update(model.state_dict())
    dtypes = table.get('dtypes', {})
    state = {}
    for key, shape in table['keys'].items():
        dtype = getattr(torch, dtypes.get(key, 'float32'))
        mine = have.get(key)
        if mine is not None and list(mine.shape) == shape and mine.dtype == dtype:
            state[key] = mine.detach().clone()
        else:
            state[key] = _seeded(key, shape, dtype, seed, light)
    return state


def _downstream_meta(layout, num_classes):
    classes = tuple(f'class_{i}' for i in range(num_classes))
    meta = dict(env_info='sys.platform: linux\nPyTorch: 1.12.1', seed=0,
                exp_name='published.py', config='model = dict(...)', epoch=12, iter=88000,
                mmcv_version='1.6.0', time='Mon Oct 30 12:00:00 2023', CLASSES=classes,
                hook_msgs=dict(last_ckpt='work_dirs/latest.pth'))
    if layout == 'mmdet2':
        meta['mmdet_version'] = '2.25.0'
    elif layout == 'mmseg0':
        meta['mmseg_version'] = '0.30.0'
        meta['PALETTE'] = [[i % 256, (3 * i) % 256, (7 * i) % 256]
                           for i in range(num_classes)]
    else:
        raise ValueError(f'layout must be mmdet2 or mmseg0, got {layout!r}')
    return meta


def published_checkpoint(table, model=None, seed=0, light=False, half=False):
    """A whole published file of ``table``, wrapped as the authors' code saved it.

    Args:
        table (dict | str): A table (:func:`key_table`) or a zoo name.
        model (nn.Module, optional): See :func:`published_state`. Defaults to None.
        seed (int): See :func:`published_state`. Defaults to 0.
        light (bool): See :func:`published_state`. Defaults to False.
        half (bool): Store floating tensors in fp16 (small test files). Defaults to
            False.

    Returns:
        dict: ``{'model': state}`` for ImageNet weights; for mmdet 2.x / mmseg 0.x
        files ``meta`` (``CLASSES``, ``PALETTE``), ``state_dict`` and ``optimizer``.
    """
    table = key_table(table) if isinstance(table, str) else table
    state = published_state(table, model, seed, light)
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    if table['layout'] == 'timm':
        return {table['wrapping']: state}
    first = next(iter(state))
    optimizer = dict(
        state={
            0: dict(step=torch.tensor(88000.), exp_avg=torch.zeros_like(state[first]))
        }, param_groups=[dict(lr=1e-6, weight_decay=0.05, params=[0])])
    return {
        'meta': _downstream_meta(table['layout'], table['num_classes']),
        table['wrapping']: state,
        'optimizer': optimizer
    }


def published_classification_state(backbone, num_classes=1000, name=None):
    """The state dict an authors' ImageNet checkpoint of ``backbone`` holds.

    Args:
        backbone (nn.Module): An mmagent backbone at a published size.
        num_classes (int): Rows of ``head.*``. Defaults to 1000 (as published).
        name (str, optional): The zoo name of the table; defaults to None (the ImageNet
            table closest to the backbone, :func:`find_table`).
    """
    table = key_table(name or find_table(backbone, ('timm', )))
    for key in ('head.weight', 'head.bias'):
        table['keys'][key][0] = num_classes
    return published_state(table, backbone)


def published_downstream_checkpoint(model, layout, num_classes=None, half=False,
                                    name=None):
    """A checkpoint as mmdetection 2.x (``'mmdet2'``) or mmsegmentation 0.x
    (``'mmseg0'``) saved it for ``model`` (a detector / segmentor built from a zoo
    config).

    Args:
        model (nn.Module): The detector / segmentor.
        layout (str): ``'mmdet2'`` or ``'mmseg0'``.
        num_classes (int, optional): Classes named in ``meta``; defaults to None (the
            table's: 80 for COCO, 150 for ADE20K).
        half (bool): Store floating tensors in fp16. Defaults to False.
        name (str, optional): The zoo name of the table; defaults to None (the table of
            ``layout`` closest to the model).
    """
    if layout not in ('mmdet2', 'mmseg0'):
        raise ValueError(f'layout must be mmdet2 or mmseg0, got {layout!r}')
    table = key_table(name or find_table(model, (layout, )))
    if num_classes is not None:
        table['num_classes'] = num_classes
    return published_checkpoint(table, model, half=half)
