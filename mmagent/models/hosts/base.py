"""What every mmagent host shares: presets, per-stage settings and their checks, the
attention configs per block (:func:`attention_plan`, :func:`build_attention`), the
patch embedding, the pre-norm block, the drop-path schedule, ``out_indices``,
``frozen_stages``, ``norm_eval``, ``with_cp``, the run-time choices (``cpu_kernels``,
``bias_cache_mb``) and loading published weights.

A host is one file on top of this (a layout: its stem, stages and outputs); a family is
a preset of a host and attentions (see ``docs/architecture.md``).
"""
import copy
import inspect
import math
import re

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.runner.checkpoint import CheckpointLoader
from torch.nn.modules.batchnorm import _BatchNorm

# yapf: disable  (isort wraps this import)
from mmagent.models.checkpoint import (check_finite, check_loaded_fraction,
                                       clean_state_dict, drops_derived,
                                       unwrap_state_dict)
# yapf: enable
from mmagent.models.layers import Mlp
from mmagent.models.layers.agent_attention import check_agent_shape
from mmagent.models.layers.runtime import DEFAULT_BIAS_CACHE_MB, configure_runtime
from mmagent.models.layers.windows import pad_to_multiple
from mmagent.registry import MODELS

NUM_STAGES = 4


# -- presets and per-stage settings ---------------------------------------------------
def resolve_arch(cls_name, arch, arch_zoo, overrides):
    """Merge a preset (``arch`` name or dict) with explicit per-argument overrides.

    Args:
        cls_name (str): For messages.
        arch (str | dict): A key of ``arch_zoo`` or a dict of settings.
        arch_zoo (dict): The presets; each value has every key the model needs.
        overrides (dict): Arguments given explicitly; ``None`` means "from the preset".

    Returns:
        dict: The settings, every key of a preset present.
    """
    required = set(next(iter(arch_zoo.values())))
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(f'{cls_name}: unknown arch {arch!r}; choose one of '
                             f'{sorted(arch_zoo)} or pass a dict of settings')
        settings = copy.deepcopy(arch_zoo[key])
    elif isinstance(arch, dict):
        settings = copy.deepcopy(arch)
        unknown = set(settings) - required
        if unknown:
            raise ValueError(f'{cls_name}: arch dict has unknown keys {sorted(unknown)}; '
                             f'valid keys are {sorted(required)}')
    else:
        raise TypeError(f'{cls_name}: arch must be a preset name or a dict, got '
                        f'{type(arch).__name__}')
    settings.update({k: v for k, v in overrides.items() if v is not None})
    missing = required - set(settings)
    if missing:
        raise ValueError(f'{cls_name}: arch dict lacks {sorted(missing)}')
    return settings


def as_stage_list(name, value, num_stages=NUM_STAGES, kind=int):
    """A per-stage setting as a list of ``num_stages`` values, or a clear error."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * num_stages
    if not isinstance(value, (list, tuple)) or len(value) != num_stages:
        raise ValueError(f'{name} must have one entry per stage ({num_stages}), '
                         f'got {value!r}')
    for v in value:
        if kind is int and not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            raise ValueError(f'{name} entries must be positive integers, got {value!r}')
        if kind is float and not (isinstance(v, (int, float)) and v > 0):
            raise ValueError(f'{name} entries must be positive numbers, got {value!r}')
    return list(value)


def as_shape_list(name, value, num_stages=NUM_STAGES):
    """One (rows, cols) grid per stage, e.g. ``downstream_agent_shapes``."""
    if not isinstance(value, (list, tuple)) or len(value) != num_stages:
        raise ValueError(f'{name} must have one (rows, cols) per stage ({num_stages}), '
                         f'got {value!r}')
    return [check_agent_shape(s, f'{name}[{i}]') for i, s in enumerate(value)]


def agent_stage_cfgs(agent_num, downstream_agent_shapes, num_stages=NUM_STAGES,
                     type='mmagent.AgentAttention'):
    """One agent-attention config per stage (a letter map's value) from the per-stage
    ``agent_num`` (perfect squares) and ``downstream_agent_shapes`` (None: the
    pretraining grids), with errors that name them."""
    nums = as_stage_list('agent_num', agent_num, num_stages)
    if any(math.isqrt(a)**2 != a for a in nums):
        raise ValueError(f'agent_num entries must be perfect squares (4, 9, 16, 49, '
                         f'...), got {agent_num!r}')
    shapes = [None] * num_stages if downstream_agent_shapes is None else \
        as_shape_list('downstream_agent_shapes', downstream_agent_shapes, num_stages)
    return [
        dict(type=type, agent_num=a, downstream_agent_shape=s)
        for a, s in zip(nums, shapes)
    ]


def preset_settings(preset, arch, kwargs, defaults):
    """A preset's own settings (those of its attentions), popped from ``kwargs``.

    Each key of ``defaults`` comes from ``kwargs`` when given there (not None), else
    from the preset ``arch`` when the preset's ``arch_zoo`` has the key, else from
    ``defaults``.
    """
    given = {k: kwargs.pop(k) for k in list(defaults) if k in kwargs}
    given = {k: v for k, v in given.items() if v is not None}
    in_zoo = set(next(iter(preset.arch_zoo.values())))
    resolved = preset.resolve_arch(arch, **{
        k: v
        for k, v in given.items() if k in in_zoo
    })
    return {k: given.get(k, resolved.get(k, default)) for k, default in defaults.items()}


def agent_letter_map(preset, cfg, plain, agent_type='mmagent.AgentAttention'):
    """The letter map of an agent preset: 'A' agent attention (``agent_type``) with
    ``cfg``'s per-stage ``agent_num`` / ``downstream_agent_shapes``, 'B' the host's
    ``plain`` attention config; records both settings on ``preset``."""
    agents = agent_stage_cfgs(cfg['agent_num'], cfg['downstream_agent_shapes'],
                              type=agent_type)
    preset.agent_num = [c['agent_num'] for c in agents]
    preset.downstream_agent_shapes = [c['downstream_agent_shape'] for c in agents]
    return dict(A=agents, B=plain)


#: the settings of the agent presets, popped by :func:`preset_settings`
AGENT_SETTINGS = dict(attn_type='AAAA', agent_num=(9, 16, 49, 49),
                      downstream_agent_shapes=None)


def check_heads(embed_dims, num_heads):
    """Every stage's width must split evenly into its heads."""
    for i, (c, h) in enumerate(zip(embed_dims, num_heads)):
        if c % h:
            raise ValueError(f'embed_dims of stage {i} ({c}) must be divisible by '
                             f'num_heads[{i}] ({h})')


def parse_attn_type(attn_type, depths, letters=('A', 'B')):
    """Expand an attention-type string into one letter of ``letters`` per block.

    One letter a stage, or 'M' (mixed): a trailing number k (as in ``'AAMB2'``) makes
    the first k blocks of the 'M' stage ``letters[0]`` and the rest ``letters[1]``.
    """
    num_stages = len(depths)
    letters = tuple(letters)
    fast, plain = letters[0], letters[-1]
    match = re.fullmatch(r'([A-Za-z]+?)(\d*)', attn_type or '') if isinstance(
        attn_type, str) else None
    found, number = (match.group(1), match.group(2)) if match else ('', '')
    if not match or len(found) != num_stages or set(found) - set(letters) - {'M'}:
        raise ValueError(
            f'attn_type must have one letter per stage ({num_stages}) from '
            f'{", ".join(letters)} and M (mixed, followed by the number of {fast} '
            f'blocks), e.g. "{fast * (num_stages - 1)}{plain}" or '
            f'"{fast * (num_stages - 2)}M{plain}2"; got {attn_type!r}')
    if 'M' in found and (not number or len(letters) < 2):
        raise ValueError(f'attn_type {attn_type!r} has an M stage but no number of '
                         f'{fast} blocks after the letters (e.g. "{fast * 2}M{plain}2")')
    if number and 'M' not in found:
        raise ValueError(f'attn_type {attn_type!r} ends in a number but has no M stage')
    plan = []
    for letter, depth in zip(found, depths):
        if letter == 'M':
            k = int(number)
            if k > depth:
                raise ValueError(f'attn_type {attn_type!r}: {k} {fast} blocks in a stage '
                                 f'of depth {depth}')
            plan.append([letters[0]] * k + [letters[1]] * (depth - k))
        else:
            plan.append([letter] * depth)
    return plan


# -- attentions from the config ---------------------------------------------------------
def _is_attention_cfg(value):
    return isinstance(value, dict) and 'type' in value


def _per_stage(name, value, num_stages):
    """A config or a list of one config per stage -> a list of ``num_stages``."""
    if _is_attention_cfg(value):
        return [value] * num_stages
    if isinstance(value, (list, tuple)) and len(value) == num_stages \
            and all(_is_attention_cfg(v) for v in value):
        return list(value)
    raise ValueError(f'{name} must be an attention config (a dict with type=...) or a '
                     f'list of one per stage ({num_stages}), got {value!r}')


def attention_plan(attn, attn_type, depths):
    """One attention config per block: ``plan[stage][block]``.

    Args:
        attn (dict | list[dict]): One of

            * an attention config, ``dict(type='mmagent.AgentAttention', ...)``: every
              block;
            * a list of one config per stage;
            * a letter map ``dict(A=cfg, B=cfg)`` (single capital letters, not 'M'),
              each value a config or a list of one per stage, chosen per stage by
              ``attn_type``.
        attn_type (str | None): With a letter map: one letter per stage, 'M' mixing
            the map's first two letters (``'AAMB2'``: the first 2 blocks of stage 3
            'A', the rest 'B'). Must be None otherwise.
        depths (list[int]): Blocks per stage.
    """
    num_stages = len(depths)
    if isinstance(attn, dict) and 'type' not in attn:
        if not attn or any(
                not (isinstance(k, str) and len(k) == 1 and k.isupper() and k != 'M')
                for k in attn):
            raise ValueError(f'attn must be an attention config (with type=...) or a '
                             f'map of single capital letters (not M) to configs, got '
                             f'keys {sorted(map(str, attn))}')
        if attn_type is None:
            raise ValueError(f'attn is a letter map ({", ".join(attn)}): attn_type must '
                             f'say which letter each stage uses')
        per_letter = {
            k: _per_stage(f'attn[{k!r}]', v, num_stages)
            for k, v in attn.items()
        }
        letters = parse_attn_type(attn_type, depths, tuple(attn))
        return [[per_letter[letter][i] for letter in stage]
                for i, stage in enumerate(letters)]
    if attn_type is not None:
        raise ValueError(f'attn_type {attn_type!r} needs attn to be a letter map, e.g. '
                         f'dict(A=dict(type=...), B=dict(type=...))')
    return [[cfg] * depth
            for cfg, depth in zip(_per_stage('attn', attn, num_stages), depths)]


def attention_class(cfg):
    """The class a config's ``type`` names (a registered name or the class)."""
    kind = cfg.get('type') if isinstance(cfg, dict) else None
    cls = kind if isinstance(kind, type) else MODELS.get(kind) if kind else None
    if cls is None:
        raise KeyError(f'attention type {kind!r} is not registered in mmagent.MODELS '
                       f'or its parents (register it with @MODELS.register_module())')
    return cls


def accepted_arguments(cls):
    """Keyword names of ``cls.__init__``, following ``**kwargs`` up the MRO."""
    names = set()
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(vars(klass)['__init__']).parameters.values()
        names |= {
            p.name
            for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names - {'self'}


def build_attention(cfg, **context):
    """Build the attention ``cfg`` names, given what the host knows about the block.

    ``context`` is what the host offers (``embed_dims``, ``num_heads``,
    ``pretrain_hw``, ``qkv_bias``, ``attn_drop``, ``proj_drop`` and host-specific ones
    such as Swin's ``window_size`` and ``shift`` or PVT's ``sr_ratio``); the attention
    receives those that its constructor names, and the config's own values win.
    """
    cls = attention_class(cfg)
    args = {k: v for k, v in cfg.items() if k != 'type'}
    accepted = accepted_arguments(cls)
    args.update({k: v for k, v in context.items() if k in accepted and k not in args})
    return cls(**args)


def check_out_indices(out_indices, num_stages=NUM_STAGES):
    if isinstance(out_indices, int):
        out_indices = (out_indices, )
    out = []
    for i in out_indices:
        if not isinstance(i, int) or not -num_stages <= i < num_stages:
            raise ValueError(f'out_indices must be stage indices in [0, {num_stages}), '
                             f'got {out_indices!r}')
        out.append(i % num_stages)
    return tuple(out)


def drop_path_rates(drop_path_rate, depths):
    """Stochastic depth growing linearly from 0 to ``drop_path_rate`` over all blocks,
    as one list of rates per stage."""
    rates = [x.item() for x in torch.linspace(0, drop_path_rate, sum(depths))]
    out, start = [], 0
    for d in depths:
        out.append(rates[start:start + d])
        start += d
    return out


# -- bricks ---------------------------------------------------------------------------
class PatchEmbed(nn.Module):
    """Conv with kernel = stride = ``patch_size``, then LayerNorm; tokens (B, N, C).

    ``pad=True`` zero-pads the right/bottom edge to a multiple of the patch first
    (mmcv's ``AdaptivePadding`` with ``'corner'``, as Swin does); ``pad=False`` lets the
    conv floor odd sizes (PVT). mmcv's own ``PatchEmbed`` calls its conv ``projection``;
    this one keeps the published name ``proj`` so the authors' weights load as they are.
    """

    def __init__(self, in_channels, embed_dims, patch_size, pad=False, norm_eps=1e-5):
        super().__init__()
        self.pad = pad
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)

    def forward(self, x):
        x = self.proj(pad_to_multiple(x, self.patch_size) if self.pad else x)
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


class TransformerBlock(nn.Module):
    """The pre-norm residual block of every family::

        x = x + drop_path(attn(norm1(x), hw_shape))
        x = x + drop_path(mlp(norm2(x)))

    ``attn`` is any module with ``forward(x, hw_shape)`` on (B, N, C) tokens (agent
    attention, shifted-window attention, spatial-reduction attention, ...); the MLP is
    called the same way, so ``mlp`` can replace the plain :class:`Mlp` with one that
    reads the map (PVTv2's MLP with a depthwise conv).
    """

    def __init__(self, embed_dims, attn, mlp_ratio=4., drop=0., drop_path=0.,
                 norm_eps=1e-5, mlp=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = attn
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.mlp = mlp if mlp is not None else Mlp(embed_dims, int(embed_dims *
                                                                   mlp_ratio), drop=drop)

    def forward(self, x, hw_shape):
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path(self.mlp(self.norm2(x), hw_shape))


def to_map(x, hw_shape):
    """(B, N, C) tokens -> (B, C, H, W) contiguous map."""
    return x.unflatten(1, hw_shape).permute(0, 3, 1, 2).contiguous()


# -- the backbone base ------------------------------------------------------------------
class BaseBackbone(BaseModule):
    """Base of mmagent's backbones: the training-time plumbing every family shares.

    Subclasses build their layers and then set ``self.stem`` (modules/parameters before
    the first stage's blocks) and ``self.stage_modules`` (one list of modules/parameters
    per stage, in freezing order), implement ``forward`` (calling :meth:`run_block` on
    each block) and map published key names in :meth:`checkpoint_filter`.

    Args:
        out_indices (Sequence[int] | int): Stages to output.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and the first k
            stages (eval mode, no gradients).
        norm_eval (bool): Keep every BatchNorm in eval mode while training (their
            running statistics frozen). Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        cpu_kernels (bool): Run the hand-written CPU kernels
            (:mod:`~mmagent.models.layers.cpu_kernels`) where they apply: each call
            checks the device, dtype, grad mode, autocast and compilation, so CUDA,
            half precision, ``torch.compile`` and export take PyTorch's own ops.
            Defaults to True; False forces PyTorch's own ops everywhere (debugging).
        bias_cache_mb (float): MiB that this model's agent-attention layers may keep
            together in their eval bias caches (0: no cache). Defaults to 4.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads
            published weights through :meth:`load_pretrained`.
    """

    #: presets, ``{name: {setting: value}}``
    arch_zoo = {}
    #: keys that exist only downstream and are legitimately absent from ImageNet weights
    downstream_only_keys = ()
    num_stages = NUM_STAGES

    def __init__(self, out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_eval=False,
                 with_cp=False, cpu_kernels=True, bias_cache_mb=DEFAULT_BIAS_CACHE_MB,
                 init_cfg=None, **unknown):
        if unknown:  # issue 21: name the backbone, not BaseBackbone.__init__()
            raise TypeError(f'{type(self).__name__}: unknown argument(s) '
                            f'{", ".join(sorted(unknown))}')
        super().__init__(init_cfg=init_cfg)
        self.runtime = dict(cpu_kernels=cpu_kernels, bias_cache_mb=bias_cache_mb)
        if not isinstance(frozen_stages, int) or isinstance(frozen_stages, bool) \
                or not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be -1 (none), 0 (the stem) or 1..'
                             f'{self.num_stages} stages, got {frozen_stages!r}')
        self.out_indices = check_out_indices(out_indices, self.num_stages)
        self.frozen_stages = frozen_stages
        self.norm_eval = bool(norm_eval)
        self.with_cp = with_cp

    def resolve_arch(self, arch, **overrides):
        """This family's preset ``arch`` with the explicitly given arguments on top."""
        return resolve_arch(type(self).__name__, arch, self.arch_zoo, overrides)

    def finish_build(self):
        """Last step of a host's ``__init__``: the run-time choices for every layer
        (one bias-cache budget for this model) and the frozen stages."""
        configure_runtime(self, **self.runtime)
        self._freeze()

    # -- blocks ---------------------------------------------------------------------
    def run_block(self, block, x, hw_shape):
        if self.with_cp and self.training and x.requires_grad:
            return cp.checkpoint(block, x, hw_shape, use_reentrant=False)
        return block(x, hw_shape)

    # -- freezing and norm_eval -----------------------------------------------------
    def frozen_parts(self):
        """Modules and parameters frozen by ``frozen_stages``."""
        if self.frozen_stages < 0:
            return []
        parts = list(self.stem)
        for stage in self.stage_modules[:self.frozen_stages]:
            parts.extend(stage)
        return parts

    def _freeze(self):
        for part in self.frozen_parts():
            if isinstance(part, nn.Parameter):
                part.requires_grad = False
            else:
                part.eval()
                for p in part.parameters():
                    p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # -- weights --------------------------------------------------------------------
    def _init_default(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, (nn.LayerNorm, _BatchNorm)):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 0)

    def init_weights(self):
        cfg = self.init_cfg
        self._init_default()
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.load_pretrained(cfg['checkpoint'])
        elif cfg is not None:
            super().init_weights()
        self._is_init = True

    @classmethod
    def checkpoint_filter(cls, state_dict):
        """Map published key names to this module's; return (kept, ignored_keys).

        The default keeps the keys that start with one of ``cls.published_prefixes``.
        """
        prefixes = tuple(cls.published_prefixes)
        kept = {k: v for k, v in state_dict.items() if k.startswith(prefixes)}
        return kept, [k for k in state_dict if k not in kept]

    #: first components of the published backbone keys (the default filter's list)
    published_prefixes = ()
    #: buffers the authors' modules saved but this layout derives from the geometry of
    #: the actual input (dropped when loading and converting)
    derived_buffers = ()
    #: where a published ImageNet classifier's final ``norm.*`` goes in this backbone
    #: (a module name), or None: the classifier never used it (dropped)
    classifier_norm = 'norm'

    @classmethod
    def classifier_to_mmpretrain(cls, state):
        """A published (timm-layout) ImageNet state dict of this family -> the keys of
        an mmpretrain ``ImageClassifier`` with this backbone and a ``LinearClsHead``:
        ``backbone.*``, ``head.*`` -> ``head.fc.*``, ``norm.*`` -> ``backbone.`` +
        :attr:`classifier_norm` (or dropped)."""
        out = {}
        for k, v in state.items():
            if drops_derived(k, cls.derived_buffers):
                continue
            if k.startswith('head.'):
                out['head.fc.' + k[5:]] = v
            elif k.startswith('norm.'):
                if cls.classifier_norm is not None:
                    out[f'backbone.{cls.classifier_norm}.' + k[5:]] = v
            else:
                out['backbone.' + k] = v
        return out

    def load_pretrained(self, checkpoint, map_location='cpu'):
        """Load a published (or mmagent) checkpoint into the backbone.

        Accepts the state dict at top level or under ``model`` / ``state_dict``, with or
        without a ``backbone.`` prefix. Classification-only keys are ignored and listed
        once in the log; a shape mismatch raises naming the key and both shapes.

        Returns:
            tuple[list[str], list[str]]: missing keys (excluding downstream-only
            ones) and ignored keys.
        """
        logger = MMLogger.get_current_instance()
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location,
                                                logger=logger)
        state = clean_state_dict(
            unwrap_state_dict(ckpt, str(checkpoint)), prefix='backbone.',
            derived=self.derived_buffers)
        full = state  # issue 21: what the file holds, for check_loaded_fraction
        state, ignored = self.checkpoint_filter(state)
        own = self.state_dict()
        ignored = list(ignored) + [k for k in state if k not in own]
        state = {k: v for k, v in state.items() if k in own}
        check_loaded_fraction(
            type(self).__name__,
            checkpoint,
            full,
            [  # issue 21
                k for k, v in state.items() if v.shape == own[k].shape
            ])
        check_finite(state, f'{type(self).__name__}: {checkpoint}')  # issue 21
        bad = [
            f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
            for k, v in state.items() if v.shape != own[k].shape
        ]
        if bad:
            raise ValueError(f'{type(self).__name__}: cannot load {checkpoint}: shape '
                             f'mismatch for ' + '; '.join(bad))
        self.load_state_dict(state, strict=False)
        missing = [k for k in own if k not in state]
        fresh = [k for k in missing if k.split('.')[0] in self.downstream_only_keys]
        missing = [k for k in missing if k not in fresh]
        msg = f'{type(self).__name__}: loaded {len(state)} tensors from {checkpoint}'
        if ignored:
            msg += f'; ignored {len(ignored)} keys not used by the backbone: ' + \
                ', '.join(sorted(ignored))
        if fresh:
            msg += f'; downstream-only, initialised fresh: {", ".join(fresh)}'
        print_log(msg, logger='current')
        if missing:
            print_log(
                f'{type(self).__name__}: {checkpoint} lacks {len(missing)} '
                f'backbone keys, left at their initial values: '
                f'{", ".join(missing)}', logger='current', level=30)
        return missing, sorted(ignored)


class Stage(nn.Module):
    """One stage of a Swin-layout backbone: ``blocks`` then an optional ``downsample``
    (the published names of Swin, Agent-Swin and MLLA)."""

    def __init__(self, blocks, downsample=None):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample


class SwinLayoutBackbone(BaseBackbone):
    """A backbone laid out like Swin: ``patch_embed`` -> ``pos_drop`` -> ``layers[i]``
    (:class:`Stage`), each output map through a LayerNorm ``norm{i}``.

    Subclasses build ``self.patch_embed``, ``self.pos_drop`` and ``self.layers`` with
    ``self.embed_dims`` set, then call :meth:`add_output_norms`.
    """
    downstream_only_keys = ('norm0', 'norm1', 'norm2', 'norm3')

    def add_output_norms(self):
        """The per-output LayerNorms, the freezing order, and the freeze itself."""
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.embed_dims[i]))
        self.stem = [self.patch_embed]
        self.stage_modules = [
            [self.layers[i]] +
            ([getattr(self, f'norm{i}')] if i in self.out_indices else [])
            for i in range(len(self.layers))
        ]
        self.finish_build()

    def forward(self, x):
        x, hw_shape = self.patch_embed(x)
        x = self.pos_drop(x)
        outs = []
        for i, stage in enumerate(self.layers):
            for block in stage.blocks:
                x = self.run_block(block, x, hw_shape)
            if i in self.out_indices:
                outs.append(to_map(getattr(self, f'norm{i}')(x), hw_shape))
            if stage.downsample is not None:
                x, hw_shape = stage.downsample(x, hw_shape)
        return tuple(outs)


__all__ = [
    'BaseBackbone', 'SwinLayoutBackbone', 'Stage', 'PatchEmbed', 'TransformerBlock',
    'DropPath', 'resolve_arch', 'as_stage_list', 'as_shape_list', 'agent_stage_cfgs',
    'agent_letter_map', 'preset_settings', 'AGENT_SETTINGS', 'check_heads',
    'parse_attn_type', 'attention_plan', 'attention_class', 'accepted_arguments',
    'build_attention', 'check_out_indices', 'drop_path_rates', 'to_map', 'NUM_STAGES'
]
