"""MLLA: Mamba-Like Linear Attention (Han et al., "Demystify Mamba in Vision: A Linear
Attention Perspective", NeurIPS 2024).

Read top to bottom: 2-D RoPE, the linear attention (ELU+1 kernel, RoPE on queries and
keys, LePE depthwise conv on values), the MLLA block (two CPE convs, SiLU-gated input
and activation projections), the convolutional stem and patch merging (BatchNorm), the
presets and the backbone. The rest (presets with named errors, drop-path schedule,
``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``, loading) is the shared
core's (:mod:`.base`). Parameter names are the published ones.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath

from mmagent.models.layers import Mlp
from mmagent.models.layers.linear_attention import linear_attention
from mmagent.registry import MODELS
from .base import (Stage, SwinLayoutBackbone, as_stage_list, check_heads,
                   drop_path_rates)


def map_view(x, hw_shape):
    """(B, N, C) tokens as a (B, C, H, W) channels-last view, no copy: the convs then
    run on the layout the tokens have (as the authors' code does)."""
    return x.unflatten(1, hw_shape).permute(0, 3, 1, 2)


def tokens(x):
    """(B, C, H, W) -> (B, N, C)."""
    return x.flatten(2).transpose(1, 2)


def rope_2d(x, hw_shape, base=10000):
    """2-D rotary position embedding over the whole channel axis, for the actual map.

    ``x`` (B, N, C) with N = H * W row-major and C divisible by 4: channel pairs
    (2j, 2j + 1) are rotated by ``row * theta_j`` for the first C/4 pairs and by
    ``col * theta_j`` for the last C/4, ``theta_j = base ** (-j / (C/4))``.
    """
    h, w = hw_shape
    k = x.shape[-1] // 4
    theta = 1 / (base ** (torch.arange(k, device=x.device) / k))
    rows = torch.arange(h, device=x.device)[:, None] * theta  # (H, k)
    cols = torch.arange(w, device=x.device)[:, None] * theta  # (W, k)
    angles = torch.cat([rows[:, None, :].expand(h, w, k), cols[None].expand(h, w, k)],
                       dim=-1).reshape(h * w, 2 * k)
    cos, sin = torch.cos(angles), torch.sin(angles)
    pairs = x.unflatten(-1, (2 * k, 2))
    re, im = pairs[..., 0], pairs[..., 1]
    return torch.stack([re * cos - im * sin, im * cos + re * sin], dim=-1).flatten(-2)


class LinearAttention(nn.Module):
    """MLLA's linear attention with RoPE and LePE; ``forward(x, hw_shape)``.

    Queries and keys are ``elu(.) + 1`` of one projection ``qk``; values are the input.
    Per head, ``out = (rope(q) @ (rope(k)^T v) / N) / (q @ mean(k)^T + 1e-6)``, then
    ``+ lepe(v)``. The products and the normaliser are computed in float32 whatever the
    autocast dtype (the authors found fp16 unstable here), and cast back.
    """

    def __init__(self, embed_dims, num_heads, qkv_bias=True):
        super().__init__()
        if embed_dims % 4:
            raise ValueError(f'MLLA needs embed_dims divisible by 4 (2-D RoPE), got '
                             f'{embed_dims}')
        self.num_heads = num_heads
        self.qk = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.lepe = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def forward(self, x, hw_shape):
        q, k = (F.elu(t) + 1.0 for t in self.qk(x).chunk(2, dim=-1))
        with torch.autocast(x.device.type, enabled=False):
            q, k = q.float(), k.float()
            out = linear_attention(q, k, x.float(), self.num_heads,
                                   q_num=rope_2d(q, hw_shape),
                                   k_num=rope_2d(k, hw_shape)).to(x.dtype)
        return out + tokens(self.lepe(map_view(x, hw_shape)))


class MLLABlock(nn.Module):
    """The MLLA block::

        x = x + cpe1(x)
        x = x + drop_path(out_proj(attn(silu(dwc(in_proj(norm1(x))))) * silu(act_proj(norm1(x)))))
        x = x + cpe2(x)
        x = x + drop_path(mlp(norm2(x)))
    """

    def __init__(self, embed_dims, num_heads, mlp_ratio=4., qkv_bias=True, drop=0.,
                 drop_path=0.):
        super().__init__()
        c = embed_dims
        self.cpe1 = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.norm1 = nn.LayerNorm(c)
        self.in_proj = nn.Linear(c, c)
        self.act_proj = nn.Linear(c, c)
        self.dwc = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.act = nn.SiLU()
        self.attn = LinearAttention(c, num_heads, qkv_bias=qkv_bias)
        self.out_proj = nn.Linear(c, c)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.cpe2 = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = Mlp(c, int(c * mlp_ratio), drop=drop)

    def cpe(self, conv, x, hw_shape):
        return tokens(conv(map_view(x, hw_shape)))

    def forward(self, x, hw_shape):
        x = x + self.cpe(self.cpe1, x, hw_shape)
        y = self.norm1(x)
        gate = self.act(self.act_proj(y))
        y = self.act(self.cpe(self.dwc, self.in_proj(y), hw_shape))
        x = x + self.drop_path(self.out_proj(self.attn(y, hw_shape) * gate))
        x = x + self.cpe(self.cpe2, x, hw_shape)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ConvLayer(nn.Module):
    """Conv, optional BatchNorm (``norm``), optional ReLU (published names)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=0,
                 groups=1, bias=True, norm=True, act=True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(out_channels) if norm else None
        self.act = nn.ReLU() if act else None

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return self.act(x) if self.act is not None else x


class Stem(nn.Module):
    """Stride-4 convolutional stem: zero-pad right/bottom to a multiple of 4; 3x3 s2
    conv; a residual pair of 3x3 convs; 3x3 s2 conv to 4C and a 1x1 conv to C."""

    def __init__(self, in_channels, embed_dims):
        super().__init__()
        half = embed_dims // 2
        self.conv1 = ConvLayer(in_channels, half, 3, stride=2, padding=1, bias=False)
        self.conv2 = nn.Sequential(
            ConvLayer(half, half, 3, padding=1, bias=False),
            ConvLayer(half, half, 3, padding=1, bias=False, act=False))
        self.conv3 = nn.Sequential(
            ConvLayer(half, embed_dims * 4, 3, stride=2, padding=1, bias=False),
            ConvLayer(embed_dims * 4, embed_dims, 1, bias=False, act=False))

    def forward(self, x):
        h, w = x.shape[2:]
        if h % 4 or w % 4:
            x = F.pad(x, (0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4))
        x = self.conv1(x)
        x = self.conv3(self.conv2(x) + x)
        return tokens(x), (x.shape[2], x.shape[3])


class PatchMerging(nn.Module):
    """Zero-pad to even size; 1x1 conv to 8C, 3x3 stride-2 depthwise conv, 1x1 conv
    with BatchNorm to 2C."""

    def __init__(self, embed_dims, ratio=4):
        super().__init__()
        out, mid = 2 * embed_dims, 2 * embed_dims * ratio
        self.conv = nn.Sequential(
            ConvLayer(embed_dims, mid, 1, norm=False),
            ConvLayer(mid, mid, 3, stride=2, padding=1, groups=mid, norm=False),
            ConvLayer(mid, out, 1, act=False))

    def forward(self, x, hw_shape):
        h, w = hw_shape
        x = x.unflatten(1, hw_shape)
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = self.conv(x.permute(0, 3, 1, 2))
        return tokens(x), (x.shape[2], x.shape[3])


@MODELS.register_module()
class MLLA(SwinLayoutBackbone):
    """MLLA backbone (Han et al., NeurIPS 2024) for OpenMMLab 2.0.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        in_channels (int): Defaults to 3.
        embed_dims (int, optional): Width of stage 1; doubles every stage. Must be
            divisible by 8 (the stem halves it; RoPE needs multiples of 4).
        depths, num_heads (list, optional): Per-stage overrides (4 entries).
        mlp_ratio (float, optional): Defaults to the preset's 4.
        out_indices (Sequence[int]): Stages to output, each through a LayerNorm
            ``norm{i}`` as the authors' downstream backbone. Defaults to (0, 1, 2, 3).
        qkv_bias (bool): Defaults to True.
        drop_rate (float): Dropout in the MLPs. Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        frozen_stages (int): -1 none, 0 the stem, k the first k stages.
        norm_eval (bool): Keep the BatchNorms of the stem and the patch merging in
            eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='mmagent://mlla_t_in1k')``.

    Any input size works: the stem and the patch merging pad, and RoPE is computed for
    the actual map.
    """
    arch_zoo = {
        'tiny': dict(embed_dims=64, depths=[2, 4, 8, 4], num_heads=[2, 4, 8, 16],
                     mlp_ratio=4.),
        'small': dict(embed_dims=64, depths=[3, 6, 21, 6], num_heads=[2, 4, 8, 16],
                      mlp_ratio=4.),
        'base': dict(embed_dims=96, depths=[3, 6, 21, 6], num_heads=[3, 6, 12, 24],
                     mlp_ratio=4.),
    }
    published_prefixes = ('patch_embed.', 'layers.', 'norm0.', 'norm1.', 'norm2.',
                          'norm3.')

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 embed_dims=None,
                 depths=None,
                 num_heads=None,
                 mlp_ratio=None,
                 qkv_bias=True,
                 drop_rate=0.,
                 drop_path_rate=0.1,
                 **kwargs):
        super().__init__(**kwargs)  # out_indices, frozen_stages, norm_eval, with_cp, init_cfg
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratio=mlp_ratio)
        base_dims = cfg['embed_dims']
        if not isinstance(base_dims, int) or base_dims <= 0 or base_dims % 8:
            raise ValueError(f'embed_dims must be a positive multiple of 8 (the width '
                             f'of stage 1), got {base_dims!r}')
        self.embed_dims = [base_dims * 2**i for i in range(4)]
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        check_heads(self.embed_dims, self.num_heads)
        mlp_ratio = cfg['mlp_ratio']
        if not isinstance(mlp_ratio, (int, float)) or mlp_ratio <= 0:
            raise ValueError(f'mlp_ratio must be a positive number, got {mlp_ratio!r}')

        self.patch_embed = Stem(in_channels, base_dims)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.layers = nn.ModuleList()
        for i in range(4):
            blocks = [MLLABlock(self.embed_dims[i], self.num_heads[i], mlp_ratio,
                                qkv_bias=qkv_bias, drop=drop_rate, drop_path=rate)
                      for rate in dpr[i]]
            self.layers.append(Stage(
                blocks, PatchMerging(self.embed_dims[i]) if i < 3 else None))
        self.add_output_norms()
