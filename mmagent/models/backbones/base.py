"""What Agent-PVT and Agent-Swin share: preset parsing, the attention-type string,
per-block gradient checkpointing, freezing and loading published ImageNet weights."""
import copy
import re

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.runner.checkpoint import CheckpointLoader

from mmagent.models.layers.agent_attention import check_agent_shape
from mmagent.models.layers.mlp import Mlp

NUM_STAGES = 4


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
    out = []
    for v in value:
        if kind is int and not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            raise ValueError(f'{name} entries must be positive integers, got {value!r}')
        if kind is float and not (isinstance(v, (int, float)) and v > 0):
            raise ValueError(f'{name} entries must be positive numbers, got {value!r}')
        out.append(v)
    return out


def parse_attn_type(attn_type, depths):
    """Expand an attention-type string into one letter ('A' or 'B') per block.

    One letter a stage: 'A' agent attention, 'B' the backbone's ordinary attention,
    'M' mixed; a trailing number k (as in 'AAMB2') makes the first k blocks of the 'M'
    stage agent blocks and the rest ordinary ones.
    """
    num_stages = len(depths)
    match = re.fullmatch(r'([A-Za-z]+?)(\d*)', attn_type or '') if isinstance(
        attn_type, str) else None
    letters, number = (match.group(1), match.group(2)) if match else ('', '')
    if not match or len(letters) != num_stages or set(letters) - set('ABM'):
        raise ValueError(
            f'attn_type must have one letter per stage ({num_stages}) from A (agent), '
            f'B (ordinary) and M (mixed, followed by the number of agent blocks), '
            f'e.g. "AAAB" or "AAMB2"; got {attn_type!r}')
    if 'M' in letters and not number:
        raise ValueError(f'attn_type {attn_type!r} has an M stage but no number of agent '
                         f'blocks after the letters (e.g. "AAMB2")')
    if number and 'M' not in letters:
        raise ValueError(f'attn_type {attn_type!r} ends in a number but has no M stage')
    plan = []
    for letter, depth in zip(letters, depths):
        if letter == 'M':
            k = int(number)
            if k > depth:
                raise ValueError(f'attn_type {attn_type!r}: {k} agent blocks in a stage '
                                 f'of depth {depth}')
            plan.append(['A'] * k + ['B'] * (depth - k))
        else:
            plan.append([letter] * depth)
    return plan


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


class DropPath(nn.Module):
    """Stochastic depth: drops the residual branch per sample."""

    def __init__(self, drop_prob=0.):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0. or not self.training:
            return x
        keep = 1 - self.drop_prob
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self):
        return f'drop_prob={self.drop_prob}'


def unwrap_state_dict(ckpt, source='checkpoint'):
    """The state dict of a checkpoint saved by timm-style trainers, mmengine or mmcv."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'{source}: expected a dict of tensors, got {type(ckpt).__name__}')
    for key in ('state_dict', 'model', 'module'):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    return ckpt


def strip_prefixes(state_dict, prefix='backbone.'):
    """Drop DataParallel's ``module.``, and keep only ``prefix`` keys when present
    (a whole detector's checkpoint used to initialise its backbone)."""
    state_dict = {(k[7:] if k.startswith('module.') else k): v
                  for k, v in state_dict.items()}
    if any(k.startswith(prefix) for k in state_dict):
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items()
                      if k.startswith(prefix)}
    return state_dict


class AgentBackbone(BaseModule):
    """Base of the two backbones: training-time plumbing shared by both.

    Subclasses set ``self.stem`` (modules of the patch embedding), ``self.stage_modules``
    (one list of modules/parameters per stage, in freezing order) and implement
    ``forward``; they map published key names in ``checkpoint_filter``.
    """

    #: keys that exist only downstream and are legitimately absent from ImageNet weights
    downstream_only_keys = ()

    def __init__(self, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(frozen_stages, int) or frozen_stages < -1 \
                or frozen_stages > NUM_STAGES:
            raise ValueError(f'frozen_stages must be -1 (none), 0 (the stem) or 1..'
                             f'{NUM_STAGES} stages, got {frozen_stages!r}')
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp

    # -- blocks ---------------------------------------------------------------------
    def run_block(self, block, x, hw_shape):
        if self.with_cp and self.training and x.requires_grad:
            return cp.checkpoint(block, x, hw_shape, use_reentrant=False)
        return block(x, hw_shape)

    # -- freezing -------------------------------------------------------------------
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
        return self

    # -- weights --------------------------------------------------------------------
    def _init_default(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
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
        """Map published key names to this module's; return (kept, ignored_keys)."""
        raise NotImplementedError

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
        state = strip_prefixes(unwrap_state_dict(ckpt, str(checkpoint)))
        state, ignored = self.checkpoint_filter(state)
        own = self.state_dict()
        ignored = list(ignored) + [k for k in state if k not in own]
        state = {k: v for k, v in state.items() if k in own}
        bad = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
               for k, v in state.items() if v.shape != own[k].shape]
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
            print_log(f'{type(self).__name__}: {checkpoint} lacks {len(missing)} '
                      f'backbone keys, left at their initial values: '
                      f'{", ".join(missing)}', logger='current', level=30)
        return missing, sorted(ignored)


def to_map(x, hw_shape):
    """(B, N, C) tokens -> (B, C, H, W) contiguous map."""
    return x.unflatten(1, hw_shape).permute(0, 3, 1, 2).contiguous()


def drop_path_rates(drop_path_rate, depths):
    total = sum(depths)
    return [x.item() for x in torch.linspace(0, drop_path_rate, total)]


__all__ = ['AgentBackbone', 'Mlp', 'DropPath', 'resolve_arch', 'as_stage_list',
           'parse_attn_type', 'check_out_indices', 'check_agent_shape', 'to_map',
           'drop_path_rates', 'unwrap_state_dict', 'strip_prefixes', 'NUM_STAGES']
