"""DAT++: the Deformable Attention Transformer (Xia et al., "DAT++: Spatially Dynamic
Vision Transformer with Deformable Attention", 2023; "Vision Transformer with Deformable
Attention", CVPR 2022).

The DAT layout, NCHW throughout: a convolutional stem (two 3x3 stride-2 convs with
LayerNorm), four stages and three 3x3 stride-2 downsampling convs. Every block is::

    x = x + dwconv3x3(x)                                  # local perception unit
    x = x + drop_path(attn(norm(x), hw_shape))            # 'N' or 'D' (or your own)
    x = x + drop_path(conv_mlp(norm(x)))                  # 1x1, + dwconv3x3, GELU, 1x1

The attention of each block is named by a letter of ``stage_spec`` (published: ``N``
neighborhood attention and ``D`` deformable attention, alternating, ``DD`` in the last
stage); ``attn_cfgs`` maps the letters to registered attentions, which take (B, N, C)
tokens and ``hw_shape``. The LayerNorm's channels-last output *is* the token tensor, and
the attention's tokens are viewed back as a map, so the boundary costs no copy.
Parameter names are the published keys; :func:`dat_checkpoint_filter` and
:func:`dat_to_mmpretrain` hold what the published files need.
"""
import copy

import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath

from mmagent.models.hosts.base import (BaseBackbone, as_stage_list, build_attention,
                                       check_heads, drop_path_rates)
from mmagent.models.layers.deformable_attention import ChannelsFirstLayerNorm
from mmagent.registry import MODELS

__all__ = ['DAT', 'dat_checkpoint_filter', 'dat_to_mmpretrain']


def _spec(*stages):
    return [list(s) for s in stages]


#: the published ``N`` / ``D`` attentions; the host adds the per-stage arguments
DAT_ATTENTIONS = {
    'N': dict(type='mmagent.NeighborhoodAttention', kernel_size=7),
    'D': dict(type='mmagent.DeformableAttention', offset_range_factor=-1),
}
_SPEC = _spec('ND', 'NDND', 'ND' * 9, 'DD')


class ConvMlp(nn.Module):
    """DAT's MLP on maps: 1x1 conv, ``h + dwconv3x3(h)``, GELU, 1x1 conv (published
    names ``linear1.0``, ``dwc``, ``linear2.0``).

    Args:
        channels (int): C.
        ratio (float): Hidden channels / C. Defaults to 4.
        drop (float): Dropout after each 1x1 conv. Defaults to 0.
    """

    def __init__(self, channels, ratio=4., drop=0.):
        super().__init__()
        hidden = int(channels * ratio)
        self.linear1 = nn.Sequential(nn.Conv2d(channels, hidden, 1))
        self.dwc = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.linear2 = nn.Sequential(nn.Conv2d(hidden, channels, 1))
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.drop(self.linear1(x))
        return self.drop(self.linear2(self.act(x + self.dwc(x))))


class DATStage(nn.Module):
    """One stage: per block a local perception unit, two LayerNorms, an attention, an
    MLP and a drop-path (published names ``local_perception_units``, ``layer_norms``,
    ``attns``, ``mlps``).

    Args:
        embed_dims (int): C.
        attns (list[nn.Module]): One attention per block, ``forward(x, hw_shape)``.
        mlp_ratio (float): MLP hidden ratio.
        drop (float): MLP dropout.
        drop_paths (list[float]): One stochastic-depth rate per block.
    """

    def __init__(self, embed_dims, attns, mlp_ratio, drop, drop_paths):
        super().__init__()
        c, depth = embed_dims, len(attns)
        self.local_perception_units = nn.ModuleList(
            nn.Conv2d(c, c, 3, padding=1, groups=c) for _ in range(depth))
        self.layer_norms = nn.ModuleList(
            ChannelsFirstLayerNorm(c) for _ in range(2 * depth))
        self.attns = nn.ModuleList(attns)
        self.mlps = nn.ModuleList(ConvMlp(c, mlp_ratio, drop) for _ in range(depth))
        self.drop_path = nn.ModuleList(
            DropPath(r) if r > 0 else nn.Identity() for r in drop_paths)

    def block(self, d, x):
        """Block ``d`` on an NCHW map."""
        x = x + self.local_perception_units[d](x)
        hw_shape = (x.shape[2], x.shape[3])
        tokens = self.layer_norms[2 * d].norm(x.permute(0, 2, 3, 1)).flatten(1, 2)
        y = self.attns[d](tokens, hw_shape).transpose(1, 2).unflatten(2, hw_shape)
        x = x + self.drop_path[d](y)
        return x + self.drop_path[d](self.mlps[d](self.layer_norms[2 * d + 1](x)))

    def forward(self, x, with_cp=False):
        for d in range(len(self.attns)):
            if with_cp and x.requires_grad:
                x = cp.checkpoint(self.block, d, x, use_reentrant=False)
            else:
                x = self.block(d, x)
        return x


def _conv_norm(cin, cout, bias=True):
    return [nn.Conv2d(cin, cout, 3, 2, 1, bias=bias), ChannelsFirstLayerNorm(cout)]


@MODELS.register_module()
class DAT(BaseBackbone):
    """DAT++ backbone; outputs the maps of ``out_indices`` (each through its LayerNorm
    ``norms.i``), strides 4, 8, 16, 32.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        stem_channels, embed_dims, depths, num_heads, groups, stage_spec: Override the
            preset (``stage_spec``: one string or list of letters per stage, one letter
            per block). Default to None (the preset's).
        attn_cfgs (dict, optional): Letter -> attention config (a registered module
            with ``forward(x, hw_shape)``); merged over :data:`DAT_ATTENTIONS`. The host
            offers ``embed_dims``, ``num_heads``, ``pretrain_hw``, ``attn_drop``,
            ``proj_drop``, ``groups``, ``stride``, ``offset_kernel_size`` and
            ``table_size``; an attention takes those its constructor names, unless the
            config gives them. Defaults to None.
        strides (Sequence[int]): Deformable key-grid strides per stage.
            Defaults to (8, 4, 2, 1).
        offset_kernel_sizes (Sequence[int]): Offset-network kernels per stage.
            Defaults to (9, 7, 5, 3).
        mlp_ratio (float): Defaults to 4.
        img_size (int): Pretraining size; sets the relative-position tables
            (``img_size / 4 / 2**i``). Defaults to 224.
        in_channels (int): Defaults to 3.
        drop_rate (float): Dropout after projections. Defaults to 0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float): Stochastic depth, 0 to this over all blocks.
            Defaults to 0.2.
        **kwargs: ``out_indices`` (default (0, 1, 2, 3)), ``frozen_stages`` (-1),
            ``norm_eval`` (False), ``with_cp`` (False), ``init_cfg`` (None).
    """

    arch_zoo = {
        'tiny':
        dict(stem_channels=64, embed_dims=[64, 128, 256, 512], depths=[2, 4, 18, 2],
             num_heads=[2, 4, 8, 16], groups=[1, 2, 4, 8], stage_spec=_SPEC),
        'small':
        dict(stem_channels=96, embed_dims=[96, 192, 384, 768], depths=[2, 4, 18, 2],
             num_heads=[3, 6, 12, 24], groups=[1, 2, 3, 6], stage_spec=_SPEC),
        'base':
        dict(stem_channels=128, embed_dims=[128, 256, 512, 1024], depths=[2, 4, 18, 2],
             num_heads=[4, 8, 16, 32], groups=[2, 4, 8, 16], stage_spec=_SPEC),
    }
    published_prefixes = ('patch_proj.', 'stages.', 'down_projs.', 'norms.')
    downstream_only_keys = ('norms', )

    def __init__(self, arch='tiny', stem_channels=None, embed_dims=None, depths=None,
                 num_heads=None, groups=None, stage_spec=None, attn_cfgs=None,
                 strides=(8, 4, 2, 1), offset_kernel_sizes=(9, 7, 5, 3), mlp_ratio=4.,
                 img_size=224, in_channels=3, drop_rate=0., attn_drop_rate=0.,
                 drop_path_rate=0.2, **kwargs):
        super().__init__(**kwargs)
        cfg = self.resolve_arch(arch, stem_channels=stem_channels, embed_dims=embed_dims,
                                depths=depths, num_heads=num_heads, groups=groups,
                                stage_spec=stage_spec)
        self._setup(cfg, strides, offset_kernel_sizes, img_size, attn_cfgs)
        stem = cfg['stem_channels']
        if stem != self.embed_dims[0]:
            raise ValueError(f'DAT: stem_channels ({stem}) must equal embed_dims[0] '
                             f'({self.embed_dims[0]}): the stages have no input '
                             f'projection')
        self.patch_proj = nn.Sequential(
            nn.Conv2d(in_channels, stem // 2, 3, 2, 1), ChannelsFirstLayerNorm(stem // 2),
            nn.GELU(), *_conv_norm(stem // 2, stem))
        dpr = drop_path_rates(drop_path_rate, self.depths)
        common = dict(attn_drop=attn_drop_rate, proj_drop=drop_rate)
        self.stages = nn.ModuleList(
            DATStage(self.embed_dims[i], [
                self.stage_attention(i, letter, common) for letter in self.stage_spec[i]
            ], mlp_ratio, drop_rate, dpr[i]) for i in range(4))
        self.down_projs = nn.ModuleList(
            nn.Sequential(*_conv_norm(self.embed_dims[i], self.embed_dims[i + 1], False))
            for i in range(3))
        self.norms = nn.ModuleList(
            ChannelsFirstLayerNorm(self.embed_dims[i]) if i in
            self.out_indices else nn.Identity() for i in range(4))
        self.stem = [self.patch_proj]
        self.stage_modules = [
            ([self.down_projs[i - 1]] if i else []) + [self.stages[i], self.norms[i]]
            for i in range(4)
        ]
        self.finish_build()

    def _setup(self, cfg, strides, offset_kernel_sizes, img_size, attn_cfgs):
        """Check the per-stage settings and keep them."""
        self.embed_dims = as_stage_list('embed_dims', cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        self.groups = as_stage_list('groups', cfg['groups'])
        self.strides = as_stage_list('strides', strides)
        self.offset_kernel_sizes = as_stage_list('offset_kernel_sizes',
                                                 offset_kernel_sizes)
        check_heads(self.embed_dims, self.num_heads)
        spec = cfg['stage_spec']
        if not isinstance(spec, (list, tuple)) or len(spec) != 4:
            raise ValueError(f'stage_spec must have one entry per stage (4), got '
                             f'{spec!r}')
        self.stage_spec = [list(s) for s in spec]
        self.attn_cfgs = dict(copy.deepcopy(DAT_ATTENTIONS), **(attn_cfgs or {}))
        for i, (letters, depth) in enumerate(zip(self.stage_spec, self.depths)):
            if len(letters) != depth:
                raise ValueError(f'stage_spec[{i}] has {len(letters)} letters for '
                                 f'{depth} blocks (depths[{i}])')
            unknown = sorted(set(letters) - set(self.attn_cfgs))
            if unknown:
                raise ValueError(f'stage_spec[{i}]: letters {unknown} name no attention; '
                                 f'attn_cfgs has {sorted(self.attn_cfgs)}')
        self.table_sizes = [img_size // 4 // 2**i for i in range(4)]

    def stage_attention(self, i, letter, common):
        """Stage i's attention for ``letter``: its config, given what the stage knows
        (the attention takes those arguments its constructor names)."""
        t = self.table_sizes[i]
        return build_attention(self.attn_cfgs[letter], embed_dims=self.embed_dims[i],
                               num_heads=self.num_heads[i], pretrain_hw=(t, t),
                               groups=self.groups[i], stride=self.strides[i],
                               offset_kernel_size=self.offset_kernel_sizes[i],
                               table_size=(t, t), **common)

    def _init_default(self):
        """The authors' models keep PyTorch's default initialisation (their
        ``reset_parameters`` changes nothing) and truncated-normal position tables."""

    def forward(self, x):
        x = self.patch_proj(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x, with_cp=self.with_cp and self.training)
            if i in self.out_indices:
                outs.append(self.norms[i](x).contiguous())
            if i < 3:
                x = self.down_projs[i](x)
        return tuple(outs)

    @classmethod
    def checkpoint_filter(cls, state_dict):
        """Published backbone keys kept as they are; the classifier's ``cls_norm`` and
        ``cls_head`` ignored (downstream ``norms.i`` start fresh, as the authors' do)."""
        return dat_checkpoint_filter(state_dict)

    @classmethod
    def classifier_to_mmpretrain(cls, state):
        """See :func:`dat_to_mmpretrain`: DAT++ names its classifier's own keys."""
        return dat_to_mmpretrain(state)


def dat_checkpoint_filter(state_dict):
    """(kept, ignored_keys) of a published DAT++ state dict for the backbone.

    The published files hold parameters only (no derived buffers) under the module's
    own names, so nothing is renamed or computed.
    """
    kept = {k: v for k, v in state_dict.items() if k.startswith(DAT.published_prefixes)}
    return kept, [k for k in state_dict if k not in kept]


def dat_to_mmpretrain(state):
    """A published DAT++ ImageNet state dict -> mmpretrain ``ImageClassifier`` keys:
    ``cls_norm.*`` -> ``backbone.norms.3.*`` (the backbone with ``out_indices=(3, )``
    norms its last map, then ``GlobalAveragePooling``), ``cls_head.*`` -> ``head.fc.*``,
    the rest under ``backbone.``."""
    out = {}
    for k, v in state.items():
        if k.startswith('cls_head.'):
            out['head.fc.' + k[len('cls_head.'):]] = v
        elif k.startswith('cls_norm.'):
            out['backbone.norms.3.' + k[len('cls_norm.'):]] = v
        else:
            out['backbone.' + k] = v
    return out
