"""Agent-DeiT (Han et al., "Agent Attention", ECCV 2024) for OpenMMLab 2.0.

DeiT (a ViT with a class token) whose first ``agent_layer`` blocks use agent attention:
the agents are pooled from the patch queries only; the class token reads the agents and
is read by them like any token, through two extra biases (``ca_bias``: class token ->
agents, ``ac_bias``: agents -> class token). The depthwise conv of V runs on the patch
map; the class token gets none. The other blocks are ordinary softmax attention.

Module names follow the published checkpoints (``patch_embed.proj``, ``cls_token``,
``pos_embed``, ``blocks.{i}``, ``norm``), so they load as they are. A classifier
backbone: it returns the class token.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from mmagent.models.layers.agent_attention import AgentAttention, agent_side
from mmagent.registry import MODELS
from .base import BaseBackbone, TransformerBlock, drop_path_rates

__all__ = ['AgentDeiT']


class ClassTokenAgentAttention(AgentAttention):
    """:class:`AgentAttention` with a leading class token and its two biases.

    ``ac_bias`` (1, h, a, 1) is added to the agents' logits over the class token and
    ``ca_bias`` (1, h, 1, a) to the class token's logits over the agents; with another
    agent grid they are resized over the agents like the other biases.
    """
    num_prefix_tokens = 1

    def __init__(self, embed_dims, num_heads, **kwargs):
        super().__init__(embed_dims, num_heads, **kwargs)
        self.ac_bias = nn.Parameter(torch.zeros(1, num_heads, self.agent_num, 1))
        self.ca_bias = nn.Parameter(torch.zeros(1, num_heads, 1, self.agent_num))
        trunc_normal_(self.ac_bias, std=.02)
        trunc_normal_(self.ca_bias, std=.02)

    def side_bias(self, side, grid):
        bias = side(grid, self.agent_resize)
        resize = self.agent_resize.to(bias.dtype)
        if side is agent_side:  # (h, n, N) after (h, n, 1)
            return torch.cat([resize @ self.ac_bias[0].to(bias.dtype), bias], dim=2)
        return torch.cat([self.ca_bias[0].to(bias.dtype) @ resize.t(), bias], dim=1)


class SelfAttention(nn.Module):
    """Multi-head softmax attention (DeiT's ordinary blocks), via SDPA."""

    def __init__(self, embed_dims, num_heads, qkv_bias=True, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads) ** -0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, hw_shape=None):
        q, k, v = (t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
                   for t in self.qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).flatten(2)))


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` conv (published ``patch_embed.proj``), no norm."""

    def __init__(self, in_channels, embed_dims, patch_size):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


@MODELS.register_module()
class AgentDeiT(BaseBackbone):
    """Agent-DeiT backbone (ECCV 2024) for mmpretrain classifiers.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        img_size (int): Image size of the weights (224, or 448 for the published
            Agent-DeiT-S 448): sizes ``pos_embed`` and the agent biases. Defaults to
            224.
        patch_size (int): Defaults to 16.
        in_channels (int): Defaults to 3.
        embed_dims, depth, num_heads, agent_layer, agent_num, mlp_ratio (optional):
            Overrides of the preset. ``agent_layer``: the first blocks that use agent
            attention (12 for T/S, 4 for B); ``agent_num``: agents per block, a perfect
            square (49 for T/S, 81 for B).
        downstream_agent_shape (tuple, optional): Agent grid at run time. Defaults to
            the pretraining grid.
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        out_indices (Sequence[int] | int): Blocks whose class token to output; the last
            block's goes through the final ``norm``. Defaults to -1.
        frozen_stages (int): -1 none, 0 the patch embedding, class token and position
            embedding, k those and the first k blocks.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='mmagent://agent_deit_t_in1k')``.

    Other input sizes work when they are multiples of ``patch_size``: ``pos_embed`` is
    resized bicubically to the patch map (as mmpretrain's ViT does) and the agent biases
    bilinearly, as in the dense backbones.
    """
    arch_zoo = {
        'tiny': dict(embed_dims=192, depth=12, num_heads=3, agent_layer=12,
                     agent_num=49, mlp_ratio=4.),
        'small': dict(embed_dims=384, depth=12, num_heads=6, agent_layer=12,
                      agent_num=49, mlp_ratio=4.),
        'base': dict(embed_dims=768, depth=12, num_heads=12, agent_layer=4,
                     agent_num=81, mlp_ratio=4.),
    }
    published_prefixes = ('patch_embed.', 'cls_token', 'pos_embed', 'blocks.', 'norm.')

    def __init__(self,
                 arch='tiny',
                 img_size=224,
                 patch_size=16,
                 in_channels=3,
                 embed_dims=None,
                 depth=None,
                 num_heads=None,
                 agent_layer=None,
                 agent_num=None,
                 mlp_ratio=None,
                 downstream_agent_shape=None,
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 out_indices=-1,
                 **kwargs):
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depth=depth,
                                num_heads=num_heads, agent_layer=agent_layer,
                                agent_num=agent_num, mlp_ratio=mlp_ratio)
        for key in ('embed_dims', 'depth', 'num_heads', 'agent_num'):
            if not isinstance(cfg[key], int) or isinstance(cfg[key], bool) or cfg[key] <= 0:
                raise ValueError(f'{key} must be a positive integer, got {cfg[key]!r}')
        if not isinstance(cfg['agent_layer'], int) or cfg['agent_layer'] < 0:
            raise ValueError(f'agent_layer must be a non-negative integer (the number of '
                             f'leading agent blocks), got {cfg["agent_layer"]!r}')
        if cfg['embed_dims'] % cfg['num_heads']:
            raise ValueError(f'embed_dims ({cfg["embed_dims"]}) must be divisible by '
                             f'num_heads ({cfg["num_heads"]})')
        if not isinstance(img_size, int) or img_size % patch_size or img_size <= 0:
            raise ValueError(f'img_size must be a positive multiple of patch_size '
                             f'({patch_size}), got {img_size!r}')
        self.num_stages = cfg['depth']  # out_indices / frozen_stages count blocks
        super().__init__(out_indices=out_indices, **kwargs)
        dims, depth = cfg['embed_dims'], cfg['depth']
        self.embed_dims = dims
        self.patch_size = patch_size
        grid = img_size // patch_size
        self.pretrain_grid = (grid, grid)

        self.patch_embed = PatchEmbed(in_channels, dims, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dims))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = drop_path_rates(drop_path_rate, [depth])[0]

        def attention(i):
            if i < cfg['agent_layer']:
                return ClassTokenAgentAttention(
                    dims, cfg['num_heads'], agent_num=cfg['agent_num'],
                    pretrain_hw=(grid, grid), downstream_agent_shape=downstream_agent_shape,
                    qkv_bias=qkv_bias, attn_drop=attn_drop_rate, proj_drop=drop_rate)
            return SelfAttention(dims, cfg['num_heads'], qkv_bias=qkv_bias,
                                 attn_drop=attn_drop_rate, proj_drop=drop_rate)

        self.blocks = nn.ModuleList([
            TransformerBlock(dims, attention(i), cfg['mlp_ratio'], drop=drop_rate,
                             drop_path=rates[i], norm_eps=1e-6) for i in range(depth)])
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        self.stem = [self.patch_embed, self.cls_token, self.pos_embed]
        self.stage_modules = [[b] for b in self.blocks]
        self.stage_modules[-1].append(self.norm)
        self._freeze()

    def position_embedding(self, hw_shape):
        """``pos_embed`` for a ``hw_shape`` patch map (bicubic resize of the grid)."""
        if tuple(hw_shape) == self.pretrain_grid:
            return self.pos_embed
        cls_pos, grid_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        grid_pos = grid_pos.unflatten(1, self.pretrain_grid).permute(0, 3, 1, 2)
        grid_pos = F.interpolate(grid_pos, size=hw_shape, mode='bicubic',
                                 align_corners=False)
        return torch.cat([cls_pos, grid_pos.flatten(2).transpose(1, 2)], dim=1)

    def forward(self, x):
        if min(x.shape[-2:]) < self.patch_size:  # the conv would fail less clearly
            raise ValueError(f'AgentDeiT: input {tuple(x.shape[-2:])} is smaller than one '
                             f'{self.patch_size}-pixel patch')
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
