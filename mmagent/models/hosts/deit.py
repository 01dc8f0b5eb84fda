"""The DeiT host (Touvron et al., ICML 2021): a ViT with a class token, each block's
attention from the config. A classifier backbone: it returns the class token."""
import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_

from mmagent.models.layers.windows import resize_pos_embed
from mmagent.registry import MODELS
from .base import (BaseBackbone, TransformerBlock, attention_plan, build_attention,
                   drop_path_rates, resolve_arch)

__all__ = ['DeiTHost']


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` conv (published ``patch_embed.proj``), no norm."""

    def __init__(self, in_channels, embed_dims, patch_size):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


def check_positive_ints(cfg, keys):
    for key in keys:
        if not isinstance(cfg[key], int) or isinstance(cfg[key], bool) or cfg[key] <= 0:
            raise ValueError(f'{key} must be a positive integer, got {cfg[key]!r}')


@MODELS.register_module()
class DeiTHost(BaseBackbone):
    """The DeiT layout with any attention: ``patch_embed.proj``, ``cls_token``,
    ``pos_embed``, ``blocks.{i}``, ``norm`` (the published names).

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        attn (dict | list | None): The attention of the blocks: one config for all,
            or a list of one per block. The tokens it gets are the class token then
            the patch map (row-major); ``hw_shape`` is the patch map. Each is built
            with the keywords it accepts among ``embed_dims``, ``num_heads``,
            ``pretrain_hw`` (the patch grid at ``img_size``), ``qkv_bias``,
            ``attn_drop``, ``proj_drop``. Defaults to None: ``mmagent.DeiTSelfAttention``.
        img_size (int): Image size of the weights: sizes ``pos_embed`` and
            ``pretrain_hw``. Defaults to 224.
        patch_size (int): Defaults to 16.
        in_channels (int): Defaults to 3.
        embed_dims, depth, num_heads, mlp_ratio (optional): Overrides of the preset.
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        out_indices (Sequence[int] | int): Blocks whose class token to output; the last
            block's goes through the final ``norm``. Defaults to -1.
        **kwargs: ``frozen_stages`` (-1 none, 0 the patch embedding, class token and
            position embedding, k those and the first k blocks), ``norm_eval``,
            ``with_cp``, ``cpu_kernels``, ``bias_cache_mb``, ``init_cfg`` of
            :class:`~mmagent.models.hosts.base.BaseBackbone`.

    Other input sizes work when they are multiples of ``patch_size``: ``pos_embed`` is
    resized bicubically to the patch map (as mmpretrain's ViT does).
    """
    arch_zoo = {
        'tiny': dict(embed_dims=192, depth=12, num_heads=3, mlp_ratio=4.),
        'small': dict(embed_dims=384, depth=12, num_heads=6, mlp_ratio=4.),
        'base': dict(embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.),
    }
    published_prefixes = ('patch_embed.', 'cls_token', 'pos_embed', 'blocks.', 'norm.')
    default_attn = dict(type='mmagent.DeiTSelfAttention')

    def __init__(self, arch='tiny', attn=None, img_size=224, patch_size=16, in_channels=3,
                 embed_dims=None, depth=None, num_heads=None, mlp_ratio=None,
                 qkv_bias=True, drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1,
                 out_indices=-1, **kwargs):
        cfg = resolve_arch(
            type(self).__name__, arch, self.arch_zoo,
            dict(embed_dims=embed_dims, depth=depth, num_heads=num_heads,
                 mlp_ratio=mlp_ratio))
        check_positive_ints(cfg, ('embed_dims', 'depth', 'num_heads'))
        if cfg['embed_dims'] % cfg['num_heads']:
            raise ValueError(f'embed_dims ({cfg["embed_dims"]}) must be divisible by '
                             f'num_heads ({cfg["num_heads"]})')
        if not isinstance(img_size, int) or img_size % patch_size or img_size <= 0:
            raise ValueError(f'img_size must be a positive multiple of patch_size '
                             f'({patch_size}), got {img_size!r}')
        self.num_stages = cfg['depth']  # out_indices / frozen_stages count blocks
        super().__init__(out_indices=out_indices, **kwargs)
        dims, depth = cfg['embed_dims'], cfg['depth']
        self.embed_dims, self.patch_size = dims, patch_size
        grid = img_size // patch_size
        self.pretrain_grid = (grid, grid)
        plan = attention_plan(self.default_attn if attn is None else attn, None,
                              [1] * depth)
        context = dict(embed_dims=dims, num_heads=cfg['num_heads'],
                       pretrain_hw=(grid, grid), qkv_bias=qkv_bias,
                       attn_drop=attn_drop_rate, proj_drop=drop_rate)
        self.patch_embed = PatchEmbed(in_channels, dims, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dims))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = drop_path_rates(drop_path_rate, [depth])[0]
        self.blocks = nn.ModuleList([
            TransformerBlock(dims, build_attention(plan[i][0],
                                                   **context), cfg['mlp_ratio'],
                             drop=drop_rate, drop_path=rates[i], norm_eps=1e-6)
            for i in range(depth)
        ])
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        self.stem = [self.patch_embed, self.cls_token, self.pos_embed]
        self.stage_modules = [[b] for b in self.blocks]
        self.stage_modules[-1].append(self.norm)
        self.finish_build()

    def position_embedding(self, hw_shape):
        """``pos_embed`` for a ``hw_shape`` patch map (bicubic resize of the grid)."""
        return resize_pos_embed(self.pos_embed, self.pretrain_grid, hw_shape,
                                mode='bicubic', num_prefix=1)

    def forward(self, x):
        if min(x.shape[-2:]) < self.patch_size:  # the conv would fail less clearly
            raise ValueError(f'{type(self).__name__}: input {tuple(x.shape[-2:])} is '
                             f'smaller than one {self.patch_size}-pixel patch')
        x, hw_shape = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + self.position_embedding(hw_shape))
        outs = []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = self.run_block(block, x, hw_shape)
            if i in self.out_indices:
                outs.append((self.norm(x) if i == last else x)[:, 0])
        return tuple(outs)
