"""Deformable attention of DAT++ (Xia et al., "DAT++: Spatially Dynamic Vision
Transformer with Deformable Attention", 2023), as the published models compute it.

Per group of channels, an offset network (depthwise conv with stride, LayerNorm, GELU,
1x1 conv to 2 channels) reads the queries and moves a grid of reference points; keys
and values are bilinearly sampled from the input at the moved points and projected.
Every query attends to all sampled keys, with a relative-position bias sampled from a
learned table at the query-to-key displacement. Details that decide equality with the
published weights:

* reference points ``(i + 0.5) / (Hk - 1) * 2 - 1`` (divided by ``Hk - 1``, not ``Hk``,
  as the authors do: the grid is shifted and its last row lies past 1 before clamping);
* ``offset_range_factor < 0`` (all published models): no tanh, the moved points are
  clamped to [-1, 1]; ``>= 0``: ``tanh(offset) / (Hk - 1) * factor``, not clamped;
* queries at ``i / (H - 1) * 2 - 1``; the table is sampled at half the displacement;
* ``grid_sample`` bilinear with ``align_corners=True``, zeros outside.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmagent.registry import MODELS

__all__ = ['DeformableAttention', 'ChannelsFirstLayerNorm']


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map; the published name ``norm``.

    Args:
        num_channels (int): C.
        eps (float): Defaults to 1e-5.
    """

    def __init__(self, num_channels, eps=1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(num_channels, eps=eps)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _grid(n, dtype, device, centers):
    """Normalised coordinates of ``n`` rows: ``(i + 0.5) / (n - 1)`` (centers) or
    ``i / (n - 1)``, times 2, minus 1 (the authors' division by ``n - 1``)."""
    # arange (+ 0.5), not linspace: the same values exactly (whole numbers and halves),
    # and for a symbolic ``n`` (export) a graph that follows the size instead of a
    # constant taken from the example.
    line = torch.arange(0, n, dtype=dtype, device=device)
    if centers:
        line = line + 0.5
    return line.div(n - 1).mul(2.0).sub(1.0)


def _grid_2d(h, w, dtype, device, centers):
    ys, xs = _grid(h, dtype, device, centers), _grid(w, dtype, device, centers)
    return torch.stack(torch.meshgrid(ys, xs, indexing='ij'), dim=-1)  # (h, w, 2) y, x


@MODELS.register_module()
class DeformableAttention(BaseModule):
    """DAT++'s deformable attention; ``forward(x, hw_shape)`` on (B, N, C) tokens.

    Parameter names are the published ones (``proj_q``, ``conv_offset``, ``proj_k``,
    ``proj_v``, ``proj_out``, ``rpe_table``).

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads; C must be divisible by it, and it by ``groups``.
        groups (int): Offset groups (each moves its own points for its channels and
            heads). Defaults to 1.
        stride (int): Stride of the offset network: the key grid is
            ``ceil(H / stride) x ceil(W / stride)``. Defaults to 1.
        offset_kernel_size (int): Kernel of the offset network's depthwise conv.
            Defaults to 3.
        table_size (tuple[int, int]): The map size the relative-position table is made
            for (the pretraining map, 224 / 4 / 2**stage in DAT++); the table is
            ``(heads, 2 * rows - 1, 2 * cols - 1)`` and works at any input size.
            Defaults to (7, 7).
        offset_range_factor (float): Negative: clamp the moved points to [-1, 1]
            (published); else bound the offsets by ``tanh``. Defaults to -1.
        attn_drop (float): Attention dropout. Defaults to 0.
        proj_drop (float): Dropout after ``proj_out``. Defaults to 0.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, embed_dims, num_heads, groups=1, stride=1, offset_kernel_size=3,
                 table_size=(7, 7), offset_range_factor=-1, attn_drop=0., proj_drop=0.,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads or num_heads % groups:
            raise ValueError(f'DeformableAttention: embed_dims ({embed_dims}) must be '
                             f'divisible by num_heads ({num_heads}), and num_heads by '
                             f'groups ({groups})')
        rows, cols = (table_size, table_size) if isinstance(table_size, int) \
            else tuple(table_size)
        self.num_heads, self.groups, self.stride = num_heads, groups, stride
        self.scale = (embed_dims // num_heads)**-0.5
        self.offset_range_factor = offset_range_factor
        self.attn_drop = attn_drop
        cg, k = embed_dims // groups, offset_kernel_size
        self.conv_offset = nn.Sequential(
            nn.Conv2d(cg, cg, k, stride, k // 2 if k != stride else 0, groups=cg),
            ChannelsFirstLayerNorm(cg), nn.GELU(), nn.Conv2d(cg, 2, 1, bias=False))
        for name in ('proj_q', 'proj_k', 'proj_v', 'proj_out'):
            setattr(self, name, nn.Conv2d(embed_dims, embed_dims, 1))
        self.proj_drop = nn.Dropout(proj_drop)
        self.rpe_table = nn.Parameter(torch.zeros(num_heads, 2 * rows - 1, 2 * cols - 1))
        trunc_normal_(self.rpe_table, std=.01, a=-2., b=2.)

    def sample_points(self, offset, dtype):
        """(B*g, 2, Hk, Wk) offsets (y, x) -> (B*g, Hk, Wk, 2) normalised points; the
        reference grid in ``dtype`` (the input's, float32 under autocast)."""
        hk, wk = offset.shape[2:]
        ref = _grid_2d(hk, wk, dtype, offset.device, centers=True)
        if self.offset_range_factor >= 0:
            bound = offset.new_tensor([1.0 / (hk - 1.0), 1.0 / (wk - 1.0)])
            offset = offset.tanh().mul(bound.view(1, 2, 1,
                                                  1)).mul(self.offset_range_factor)
            return offset.permute(0, 2, 3, 1) + ref
        return (offset.permute(0, 2, 3, 1) + ref).clamp(-1., 1.)

    def position_bias(self, points, batch, hw_shape):
        """The table sampled at half of (query - point): (B, heads, H*W, Hk*Wk)."""
        h, w = hw_shape
        q_grid = _grid_2d(h, w, points.dtype, points.device, centers=False)
        bg = points.shape[0]
        shift = (q_grid.reshape(1, h * w, 1, 2) - points.reshape(bg, 1, -1, 2)).mul(0.5)
        table = self.rpe_table[None].expand(batch, -1, -1,
                                            -1).reshape(bg, self.num_heads // self.groups,
                                                        *self.rpe_table.shape[1:])
        bias = F.grid_sample(
            table.to(shift.dtype), shift[..., (1, 0)], mode='bilinear',
            align_corners=True)
        return bias.reshape(batch, self.num_heads, h * w, -1)

    def forward(self, x, hw_shape):
        """``x`` (B, N, C) row-major tokens of an ``hw_shape`` map -> (B, N, C)."""
        b, n, c = x.shape
        h, w = hw_shape
        if n != h * w:
            raise ValueError(f'DeformableAttention: {n} tokens do not form a {h}x{w} map')
        if h < 2 or w < 2:
            raise ValueError(f'DeformableAttention needs maps of at least 2x2, got '
                             f'{h}x{w} (the input image is too small for this stage)')
        x = x.view(b, h, w, c).permute(0, 3, 1, 2)  # NCHW view, no copy
        g, heads = self.groups, self.num_heads
        q = self.proj_q(x)
        points = self.sample_points(
            self.conv_offset(q.reshape(b * g, c // g, h, w)), x.dtype)
        keys = F.grid_sample(
            x.reshape(b * g, c // g, h, w).to(points.dtype), points[..., (1, 0)],
            mode='bilinear', align_corners=True)
        keys = keys.reshape(b, c, 1, -1)
        k = self.proj_k(keys).reshape(b, heads, c // heads, -1).transpose(-1, -2)
        v = self.proj_v(keys).reshape(b, heads, c // heads, -1).transpose(-1, -2)
        q = q.reshape(b, heads, c // heads, h * w).transpose(-1, -2)
        bias = self.position_bias(points, b, hw_shape)
        out = F.scaled_dot_product_attention(
            q, k.to(q.dtype), v.to(q.dtype), attn_mask=bias.to(q.dtype), scale=self.scale,
            dropout_p=self.attn_drop if self.training else 0.)
        out = self.proj_out(out.transpose(-1, -2).reshape(b, c, h, w))
        return self.proj_drop(out).flatten(2).transpose(1, 2)
