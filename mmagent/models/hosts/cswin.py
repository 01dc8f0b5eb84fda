"""The CSwin host (Dong et al., CVPR 2022): a 7x7 conv stem, four stages of pre-norm
blocks with strided-conv merges between them, a LayerNorm per output; each block's
attention from the config.

Module names follow the published checkpoints (``stage1_conv_embed``, ``stage{i}``,
``merge{i}``; a block's ``qkv``, ``attns`` and ``proj``), so they load as they are.
"""
import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath

from mmagent.models.layers import Mlp
from mmagent.registry import MODELS
from .base import (BaseBackbone, TransformerBlock, as_stage_list, attention_class,
                   attention_plan, build_attention, check_heads, drop_path_rates, to_map)
from .swin import check_base_dims

__all__ = ['CSWinHost', 'CSWinBlock']


class CSWinBlock(nn.Module):
    """Pre-norm CSWin block: ``x + drop_path(attention(norm1(x)))`` then the MLP.

    ``attention`` is the block's ``qkv`` projection, its branches ``attns`` (attentions
    with ``takes_qkv``: two halves of the channels and heads on vertical/horizontal
    stripes, or one over the whole map), and ``proj`` - the published layout, so the
    names load unchanged.
    """

    def __init__(self, embed_dims, branches, mlp_ratio=4., qkv_bias=True, drop=0.,
                 drop_path=0.):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attns = nn.ModuleList(branches)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), drop=drop)

    def attention(self, x, hw_shape):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        del x  # the normalised tokens (passed inline): freed before the branches run
        if len(self.attns) == 1:
            out = self.attns[0](q, k, v, hw_shape)
        else:
            half = q.shape[-1] // 2
            out = torch.cat([
                attn(q[..., part], k[..., part], v[..., part], hw_shape)
                for attn, part in zip(self.attns, (slice(0, half), slice(half, None)))
            ], dim=-1)
        return self.proj_drop(self.proj(out))

    def forward(self, x, hw_shape):
        x = x + self.drop_path(self.attention(self.norm1(x), hw_shape))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Stem(nn.Sequential):
    """7x7 stride-4 conv, then LayerNorm on the tokens (published ``stage1_conv_embed.0``
    and ``.2``)."""

    def __init__(self, in_channels, embed_dims):
        super().__init__(
            nn.Conv2d(in_channels, embed_dims, 7, stride=4, padding=2), nn.Flatten(2),
            nn.LayerNorm(embed_dims))

    def forward(self, x):
        x = self[0](x)
        hw_shape = (x.shape[2], x.shape[3])
        return self[2](self[1](x).transpose(1, 2)), hw_shape


class MergeBlock(nn.Module):
    """3x3 stride-2 conv doubling the width, then LayerNorm; odd maps round up."""

    def __init__(self, in_dims, out_dims):
        super().__init__()
        self.conv = nn.Conv2d(in_dims, out_dims, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(out_dims)

    def forward(self, x, hw_shape):
        x = self.conv(x.transpose(1, 2).unflatten(2, hw_shape))
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


@MODELS.register_module()
class CSWinHost(BaseBackbone):
    """The CSwin layout with any attention.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        attn (dict | list | None): The attention of the blocks (see
            :func:`~mmagent.models.hosts.base.attention_plan`). An attention with
            ``takes_qkv = True`` is a branch of :class:`CSWinBlock` (the block keeps
            the published ``qkv``/``attns``/``proj``); one that is also
            ``directional`` (CSwin's stripes) gets two branches on half the channels,
            ``idx`` 0 and 1, in a non-final stage whose stripe is narrower than its map
            at pretraining, else one with ``idx=-1``. Any other attention is the
            ``attn`` of a plain pre-norm block. Keywords offered: ``embed_dims``,
            ``num_heads``, ``pretrain_hw``, ``qkv_bias``, ``attn_drop``,
            ``proj_drop``, ``split_size``, ``idx``. Defaults to None: CSwin's
            ``mmagent.CSWinStripeAttention`` everywhere.
        attn_type (str, optional): With a letter map, one letter per stage ('M' +
            number mixed). Defaults to None.
        pretrain_img_size (int): Image size of the ImageNet weights (224 or 384): sizes
            ``pretrain_hw``. Defaults to 224.
        in_channels (int): Defaults to 3.
        embed_dims (int, optional): Width of stage 1; doubles every stage.
        depths, num_heads (list, optional): Per-stage overrides (4 entries).
        mlp_ratio (float, optional): Defaults to the preset's 4.
        split_size (Sequence[int]): Stripe width per stage; the published models use
            (1, 2, 7, 7) at 224 px and (1, 2, 12, 12) at 384 px.
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.2.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``,
            ``cpu_kernels``, ``bias_cache_mb``, ``init_cfg`` of
            :class:`~mmagent.models.hosts.base.BaseBackbone`.

    Any input size works: the stem and the merges round odd sizes up, and stripes that
    do not divide a map are padded (and the padding masked).
    """
    arch_zoo = {
        'tiny':
        dict(embed_dims=64, depths=[2, 4, 18, 1], num_heads=[2, 4, 8, 16], mlp_ratio=4.),
        'small':
        dict(embed_dims=64, depths=[3, 6, 29, 2], num_heads=[2, 4, 8, 16], mlp_ratio=4.),
        'base':
        dict(embed_dims=96, depths=[3, 6, 29, 2], num_heads=[4, 8, 16, 32], mlp_ratio=4.),
    }
    published_prefixes = ('stage', 'merge', 'norm0.', 'norm1.', 'norm2.', 'norm3.')
    downstream_only_keys = ('norm0', 'norm1', 'norm2', 'norm3')
    classifier_norm = 'norm3'
    default_attn = dict(type='mmagent.CSWinStripeAttention')

    def __init__(self, arch='tiny', attn=None, attn_type=None, pretrain_img_size=224,
                 in_channels=3, embed_dims=None, depths=None, num_heads=None,
                 mlp_ratio=None, split_size=(1, 2, 7, 7), qkv_bias=True, drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=0.2, **kwargs):
        super().__init__(**kwargs)
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratio=mlp_ratio)
        if not isinstance(pretrain_img_size, int) or pretrain_img_size < 32:
            raise ValueError(f'pretrain_img_size must be an integer >= 32, got '
                             f'{pretrain_img_size!r}')
        self.embed_dims = check_base_dims(cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        check_heads(self.embed_dims, self.num_heads)
        self.split_size = as_stage_list('split_size', split_size)
        plan = attention_plan(self.default_attn if attn is None else attn, attn_type,
                              self.depths)
        self.stage1_conv_embed = Stem(in_channels, self.embed_dims[0])
        dpr = drop_path_rates(drop_path_rate, self.depths)
        for i in range(4):
            dims = self.embed_dims[i]
            reso = pretrain_img_size // 4 // 2**i  # this stage's map at pretraining
            context = dict(embed_dims=dims, num_heads=self.num_heads[i],
                           pretrain_hw=(reso, reso), qkv_bias=qkv_bias,
                           attn_drop=attn_drop_rate, proj_drop=drop_rate,
                           split_size=self.split_size[i])
            if i > 0:
                self.add_module(f'merge{i}', MergeBlock(self.embed_dims[i - 1], dims))
            self.add_module(
                f'stage{i + 1}',
                nn.ModuleList([
                    self.block(i, c, context, cfg['mlp_ratio'], rate, drop_rate)
                    for c, rate in zip(plan[i], dpr[i])
                ]))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.embed_dims[i]))
        self.stem = [self.stage1_conv_embed]
        self.stage_modules = [
            ([getattr(self, f'merge{i}')] if i else []) +
            [getattr(self, f'stage{i + 1}')] +
            ([getattr(self, f'norm{i}')] if i in self.out_indices else [])
            for i in range(4)
        ]
        self.finish_build()

    def block(self, i, cfg, context, mlp_ratio, drop_path, drop):
        """Stage i's block for the attention ``cfg``."""
        cls = attention_class(cfg)
        dims, heads = context['embed_dims'], context['num_heads']
        if not getattr(cls, 'takes_qkv', False):
            return TransformerBlock(dims, build_attention(cfg, **context), mlp_ratio,
                                    drop=drop, drop_path=drop_path)
        reso = context['pretrain_hw'][0]
        if not getattr(cls, 'directional', False) or i == 3 \
                or self.split_size[i] >= reso:
            branches = [build_attention(cfg, idx=-1, **context)]
        elif heads % 2:
            raise ValueError(f'num_heads[{i}] ({heads}) must be even: a CSWin stage '
                             f'splits its heads between two stripe directions')
        else:
            half = dict(context, embed_dims=dims // 2, num_heads=heads // 2)
            branches = [build_attention(cfg, idx=idx, **half) for idx in (0, 1)]
        return CSWinBlock(dims, branches, mlp_ratio, qkv_bias=context['qkv_bias'],
                          drop=drop, drop_path=drop_path)

    def forward(self, x):
        x, hw_shape = self.stage1_conv_embed(x)
        outs = []
        for i in range(4):
            if i:
                x, hw_shape = getattr(self, f'merge{i}')(x, hw_shape)
            for block in getattr(self, f'stage{i + 1}'):
                x = self.run_block(block, x, hw_shape)
            if i in self.out_indices:
                outs.append(to_map(getattr(self, f'norm{i}')(x), hw_shape))
        return tuple(outs)
