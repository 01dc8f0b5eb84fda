"""Agent-PVT: the Pyramid Vision Transformer (v1 layout) with agent attention.

Read top to bottom: spatial-reduction attention (the ordinary 'B' attention), presets,
backbone, published-weight filter. Block, patch embedding and the rest are the shared
core's (:mod:`.base`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from mmagent.models.layers import AgentAttention
from mmagent.registry import MODELS
from .base import (AgentStages, BaseBackbone, PatchEmbed, TransformerBlock, as_stage_list,
                   check_heads, drop_path_rates, parse_attn_type, to_map)


class SRAttention(nn.Module):
    """PVT's softmax attention with spatially reduced keys/values ('B' blocks)."""

    def __init__(self, embed_dims, num_heads, qkv_bias=True, attn_drop=0., proj_drop=0.,
                 sr_ratio=1):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads) ** -0.5
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x, hw_shape):
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).unflatten(-1, (heads, c // heads)).transpose(1, 2)
        if self.sr_ratio > 1:
            x = self.norm(self.sr(to_map(x, hw_shape)).flatten(2).transpose(1, 2))
        k, v = self.kv(x).unflatten(-1, (2, heads, c // heads)).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, c)))


@MODELS.register_module()
class AgentPVT(AgentStages, BaseBackbone):
    """Agent-PVT backbone (Han et al., ECCV 2024) for OpenMMLab 2.0.

    Args:
        arch (str | dict): Preset name (``'tiny'``, ``'small'``, ``'medium'``,
            ``'large'``) or a dict with the keys of a preset. Defaults to ``'tiny'``.
        in_channels (int): Input channels. Defaults to 3.
        patch_size (int): Patch size of the first stage. Defaults to 4.
        pretrain_img_size (int): Pretraining resolution; sizes position embeddings and
            agent biases. Defaults to 224.
        embed_dims, depths, num_heads, mlp_ratios, sr_ratios, agent_num (list, optional):
            Per-stage overrides of the preset (4 entries each). Defaults to None.
        attn_type (str, optional): One letter per stage, 'A' agent attention, 'B' PVT
            spatial-reduction attention, 'M' + number mixed. Defaults to None (preset).
        downstream_agent_shapes (list, optional): The agent grid (ph, pw) of each stage
            at run time. Defaults to None (preset).
        out_indices (Sequence[int]): Stages to output. Defaults to (0, 1, 2, 3).
        qkv_bias (bool): Defaults to True.
        drop_rate (float): Dropout after position embedding, in MLPs and projections.
            Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth, growing linearly over all blocks.
            Defaults to 0.1.
        frozen_stages (int): -1 freezes nothing, 0 the first patch embedding, k the
            first k stages. Defaults to -1.
        norm_eval (bool): BatchNorms in eval mode while training (Agent-PVT has none;
            accepted for uniformity). Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=...)``
            with published ImageNet weights.
    """
    arch_zoo = {
        name: dict(embed_dims=[64, 128, 320, 512], depths=depths, num_heads=[1, 2, 5, 8],
                   mlp_ratios=[8, 8, 4, 4], sr_ratios=[8, 4, 2, 1], attn_type='AAAA',
                   agent_num=[9, 16, 49, 49],
                   downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)])
        for name, depths in (('tiny', [2, 2, 2, 2]), ('small', [3, 4, 6, 3]),
                             ('medium', [3, 4, 18, 3]), ('large', [3, 8, 27, 3]))
    }
    published_prefixes = ('patch_embed', 'pos_embed', 'block')

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 patch_size=4,
                 pretrain_img_size=224,
                 embed_dims=None,
                 depths=None,
                 num_heads=None,
                 mlp_ratios=None,
                 sr_ratios=None,
                 attn_type=None,
                 agent_num=None,
                 downstream_agent_shapes=None,
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 **kwargs):
        super().__init__(**kwargs)  # out_indices, frozen_stages, norm_eval, with_cp, init_cfg
        cfg = self.resolve_arch(
            arch, embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            mlp_ratios=mlp_ratios, sr_ratios=sr_ratios, attn_type=attn_type,
            agent_num=agent_num, downstream_agent_shapes=downstream_agent_shapes)
        self.embed_dims = as_stage_list('embed_dims', cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        self.mlp_ratios = as_stage_list('mlp_ratios', cfg['mlp_ratios'], kind=float)
        self.sr_ratios = as_stage_list('sr_ratios', cfg['sr_ratios'])
        check_heads(self.embed_dims, self.num_heads)
        self.attn_type = cfg['attn_type']
        plan = parse_attn_type(self.attn_type, self.depths, self.attn_letters)
        self.patch_size = patch_size
        self.pos_grids = [(pretrain_img_size // patch_size) // 2**i for i in range(4)]
        self.setup_efficient_attention(cfg)
        common = dict(qkv_bias=qkv_bias, attn_drop=attn_drop_rate, proj_drop=drop_rate)

        def attention(i, letter):
            if letter == 'A':
                return self.efficient_attention(i, **common)
            return SRAttention(self.embed_dims[i], self.num_heads[i],
                               sr_ratio=self.sr_ratios[i], **common)

        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.stage_modules = []
        for i in range(4):
            patch_embed = PatchEmbed(in_channels if i == 0 else self.embed_dims[i - 1],
                                     self.embed_dims[i], patch_size if i == 0 else 2)
            pos_embed = nn.Parameter(
                torch.zeros(1, self.pos_grids[i]**2, self.embed_dims[i]))
            blocks = nn.ModuleList([
                TransformerBlock(self.embed_dims[i], attention(i, letter),
                                 self.mlp_ratios[i], drop=drop_rate, drop_path=rate,
                                 norm_eps=1e-6)
                for letter, rate in zip(plan[i], dpr[i])])
            setattr(self, f'patch_embed{i + 1}', patch_embed)
            setattr(self, f'pos_embed{i + 1}', pos_embed)
            setattr(self, f'block{i + 1}', blocks)
            self.stage_modules.append([patch_embed, pos_embed, blocks])
        self.stem = self.stage_modules[0][:2]
        self.pos_drop = nn.Dropout(drop_rate)
        self._freeze()

    def efficient_attention(self, i, qkv_bias, attn_drop, proj_drop):
        """Stage i's efficient ('A') attention: agent attention."""
        g = self.pos_grids[i]
        return AgentAttention(
            self.embed_dims[i], self.num_heads[i], agent_num=self.agent_num[i],
            pretrain_hw=(g, g), downstream_agent_shape=self.downstream_agent_shapes[i],
            qkv_layout='q_kv', qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)

    def _init_default(self):
        super()._init_default()
        for i in range(4):
            trunc_normal_(getattr(self, f'pos_embed{i + 1}'), std=.02)

    def pos_embed_for(self, i, hw_shape):
        """Stage i's position embedding resized (bilinear) to the map, (1, N, C)."""
        pos = getattr(self, f'pos_embed{i + 1}')
        grid = self.pos_grids[i]
        if tuple(hw_shape) == (grid, grid):
            return pos
        pos = pos.reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        pos = F.interpolate(pos, size=hw_shape, mode='bilinear', align_corners=False)
        return pos.flatten(2).transpose(1, 2)

    def forward(self, x):
        min_size = self.patch_size * 8  # the patch conv, then three stride-2 convs
        if x.shape[-2] < min_size or x.shape[-1] < min_size:
            raise ValueError(  # issue 21: the class's own name (FLattenPVT too)
                f'{type(self).__name__} needs inputs of at least {min_size}x{min_size} '
                f'pixels, got {x.shape[-2]}x{x.shape[-1]}')
        outs = []
        for i in range(4):
            x, hw_shape = getattr(self, f'patch_embed{i + 1}')(x)
            x = self.pos_drop(x + self.pos_embed_for(i, hw_shape))
            for block in getattr(self, f'block{i + 1}'):
                x = self.run_block(block, x, hw_shape)
            x = to_map(x, hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
