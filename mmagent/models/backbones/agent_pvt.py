"""Agent-PVT: the Pyramid Vision Transformer (v1 layout) with agent attention.

Read top to bottom: spatial-reduction attention (the ordinary 'B' attention), block,
patch embedding, backbone, published-weight filter.
"""
import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
import torch.nn.functional as F

from mmagent.models.layers import AgentAttention
from mmagent.registry import MODELS
from .base import (AgentBackbone, DropPath, Mlp, as_stage_list, check_agent_shape,
                   check_out_indices, drop_path_rates, parse_attn_type, resolve_arch,
                   to_map)


class SRAttention(nn.Module):
    """PVT's softmax attention with spatially reduced keys/values ('B' blocks)."""

    def __init__(self, embed_dims, num_heads, qkv_bias=True, attn_drop=0., proj_drop=0.,
                 sr_ratio=1):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads '
                             f'({num_heads})')
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


class PVTBlock(nn.Module):
    """Pre-norm block: x += attn(norm1(x)); x += mlp(norm2(x)); LayerNorm eps 1e-6."""

    def __init__(self, embed_dims, num_heads, mlp_ratio, attn_type, pretrain_hw,
                 agent_num, agent_shape, sr_ratio, qkv_bias=True, drop=0., attn_drop=0.,
                 drop_path=0.):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        if attn_type == 'A':
            self.attn = AgentAttention(
                embed_dims, num_heads, agent_num=agent_num, pretrain_hw=pretrain_hw,
                downstream_agent_shape=agent_shape, qkv_layout='q_kv', qkv_bias=qkv_bias,
                attn_drop=attn_drop, proj_drop=drop)
        else:
            self.attn = SRAttention(embed_dims, num_heads, qkv_bias=qkv_bias,
                                    attn_drop=attn_drop, proj_drop=drop,
                                    sr_ratio=sr_ratio)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), drop=drop)

    def forward(self, x, hw_shape):
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path(self.mlp(x, norm=self.norm2))


class PatchEmbed(nn.Module):
    """Conv with kernel = stride = patch size (no padding), then LayerNorm (eps 1e-5)."""

    def __init__(self, in_channels, embed_dims, patch_size):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x):
        x = self.proj(x)
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


@MODELS.register_module()
class AgentPVT(AgentBackbone):
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
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=...)``
            with published ImageNet weights.

    There is no BatchNorm in this backbone, so there is no ``norm_eval``.
    """
    arch_zoo = {
        name: dict(embed_dims=[64, 128, 320, 512], depths=depths, num_heads=[1, 2, 5, 8],
                   mlp_ratios=[8, 8, 4, 4], sr_ratios=[8, 4, 2, 1], attn_type='AAAA',
                   agent_num=[9, 16, 49, 49],
                   downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)])
        for name, depths in (('tiny', [2, 2, 2, 2]), ('small', [3, 4, 6, 3]),
                             ('medium', [3, 4, 18, 3]), ('large', [3, 8, 27, 3]))
    }

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
                 out_indices=(0, 1, 2, 3),
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 frozen_stages=-1,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(frozen_stages=frozen_stages, with_cp=with_cp, init_cfg=init_cfg)
        cfg = resolve_arch(type(self).__name__, arch, self.arch_zoo, dict(
            embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            mlp_ratios=mlp_ratios, sr_ratios=sr_ratios, attn_type=attn_type,
            agent_num=agent_num, downstream_agent_shapes=downstream_agent_shapes))
        self.embed_dims = as_stage_list('embed_dims', cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        self.mlp_ratios = as_stage_list('mlp_ratios', cfg['mlp_ratios'], kind=float)
        self.sr_ratios = as_stage_list('sr_ratios', cfg['sr_ratios'])
        self.agent_num = as_stage_list('agent_num', cfg['agent_num'])
        shapes = cfg['downstream_agent_shapes']
        if not isinstance(shapes, (list, tuple)) or len(shapes) != 4:
            raise ValueError(f'downstream_agent_shapes must have one (rows, cols) per '
                             f'stage (4), got {shapes!r}')
        self.downstream_agent_shapes = [
            check_agent_shape(s, f'downstream_agent_shapes[{i}]')
            for i, s in enumerate(shapes)]
        for i, (c, h) in enumerate(zip(self.embed_dims, self.num_heads)):
            if c % h:
                raise ValueError(f'embed_dims[{i}] ({c}) must be divisible by '
                                 f'num_heads[{i}] ({h})')
        self.attn_type = cfg['attn_type']
        plan = parse_attn_type(self.attn_type, self.depths)
        self.out_indices = check_out_indices(out_indices)
        self.pretrain_img_size = pretrain_img_size
        self.patch_size = patch_size

        dpr = drop_path_rates(drop_path_rate, self.depths)
        grid = pretrain_img_size // patch_size
        cur = 0
        self.stage_modules = []
        for i in range(4):
            stride = patch_size if i == 0 else 2
            if i > 0:
                grid //= 2
            patch_embed = PatchEmbed(in_channels if i == 0 else self.embed_dims[i - 1],
                                     self.embed_dims[i], stride)
            pos_embed = nn.Parameter(torch.zeros(1, grid * grid, self.embed_dims[i]))
            blocks = nn.ModuleList([
                PVTBlock(self.embed_dims[i], self.num_heads[i], self.mlp_ratios[i],
                         plan[i][j], (grid, grid), self.agent_num[i],
                         self.downstream_agent_shapes[i], self.sr_ratios[i],
                         qkv_bias=qkv_bias, drop=drop_rate, attn_drop=attn_drop_rate,
                         drop_path=dpr[cur + j]) for j in range(self.depths[i])])
            cur += self.depths[i]
            setattr(self, f'patch_embed{i + 1}', patch_embed)
            setattr(self, f'pos_embed{i + 1}', pos_embed)
            setattr(self, f'block{i + 1}', blocks)
            self.stage_modules.append([patch_embed, pos_embed, blocks])
        self.stem = self.stage_modules[0][:2]
        self.pos_drop = nn.Dropout(drop_rate)
        self.pos_grids = [(pretrain_img_size // patch_size) // 2**i for i in range(4)]
        self._freeze()

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
            raise ValueError(f'AgentPVT needs inputs of at least {min_size}x{min_size} '
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

    @classmethod
    def checkpoint_filter(cls, state_dict):
        """Published Agent-PVT keys are this module's keys; drop the classifier
        (``head``, ``norm``, ``cls_token``) and anything else outside the backbone."""
        keep_prefix = ('patch_embed', 'pos_embed', 'block')
        kept = {k: v for k, v in state_dict.items() if k.startswith(keep_prefix)}
        return kept, [k for k in state_dict if k not in kept]
