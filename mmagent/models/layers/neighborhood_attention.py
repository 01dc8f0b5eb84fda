"""Neighborhood attention (Hassani et al., "Neighborhood Attention Transformer", CVPR
2023) as NATTEN 0.14.6 computes it, in plain PyTorch: no compiled extension.

Every query attends to a ``k x k`` window of keys (``k`` odd, 7 in DAT++). On each axis
the window of query ``i`` starts at ``clamp(i - k // 2, 0, L - k)``: windows at the
border shift inward, so every query sees ``k x k`` real keys. The logits get a learned
relative-position bias ``rpb[head, dy + k - 1, dx + k - 1]`` with ``dy = key row - query
row`` (``dx`` alike). A map smaller than ``k`` on an axis is zero-padded at the bottom /
right before the qkv projection (the pad tokens carry the qkv bias and are attended to,
as in the published models), and cropped after.

How it runs: queries are cut into tiles of ``tile_size x tile_size``; a tile's keys are
the tile with a halo of ``k // 2`` on each side, so the keys are gathered about
``((t + k - 1) / t) ** 2`` times (3x for ``t = 8``, ``k = 7``), never ``k * k`` times.
Each tile runs through ``scaled_dot_product_attention`` with a 4-D float mask: the bias
where a key is in the query's window, ``-inf`` elsewhere. Relative to its tile the bias
index of a pair is the same in every tile; only the windows of the border tiles differ,
so the tiles are grouped in runs with equal windows and each run gets one mask.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmagent.registry import MODELS

__all__ = ['NeighborhoodAttention', 'neighborhood_attention']


def _axis_plan(length, kernel_size, tile_size, device):
    """The tiling of one axis of ``length >= kernel_size``.

    Returns:
        tuple: ``q_index`` (n * t,) rows of the query tiles; ``k_index`` (n * s,) rows
        of the key tiles in the map padded by ``k // 2`` on both sides; ``valid``
        (n, t, s) whether key ``j`` of a tile is in the window of its query ``i``;
        ``rel`` (t, s) the bias index ``key - query + k - 1`` (clamped where invalid);
        ``out_index`` (length,) where each row's output is in the tiled output; the
        runs ``[(first, last + 1), ...]`` of tiles with equal ``valid``.
    """
    if isinstance(length, int):
        t = min(tile_size, length)
    else:  # a symbolic size (export): one plan for every length >= tile_size
        torch._check(length >= tile_size)
        t = tile_size
    half = kernel_size // 2
    s = t + 2 * half
    n = (length + t - 1) // t  # ceil; not -(-a // b): ONNX lowers that with truncation
    starts = torch.clamp(torch.arange(n, device=device) * t, max=length - t)
    local_q = torch.arange(t, device=device)
    local_k = torch.arange(s, device=device)
    q_rows = starts[:, None] + local_q  # (n, t) absolute query rows
    k_rows = starts[:, None] - half + local_k  # (n, s) absolute key rows
    first = torch.clamp(q_rows - half, 0, length - kernel_size)  # window starts
    offset = k_rows[:, None, :] - first[:, :, None]  # (n, t, s)
    valid = (offset >= 0) & (offset < kernel_size)
    rel = (local_k[None, :] - local_q[:, None] + half).clamp(0, 2 * kernel_size - 2)
    rows = torch.arange(length, device=device)
    tile = torch.clamp(rows // t, max=n - 1)
    out_index = tile * t + rows - starts[tile]
    if not isinstance(n, int):  # symbolic: no runs, every tile takes its own mask
        return (q_rows.flatten(), (k_rows + half).flatten(), valid, rel, out_index, None,
                (n, t, s))
    return (q_rows.flatten(), (k_rows + half).flatten(), valid, rel, out_index,
            _runs(length, kernel_size, t, n), (n, t, s))


def _runs(length, kernel_size, t, n):
    """The runs ``[(first, last + 1), ...]`` of tiles with equal windows, from the
    sizes alone (no tensor is read, so ``torch.compile`` traces it without a graph
    break): a tile's window pattern is where each query's window starts relative to
    the tile's first key row."""
    half = kernel_size // 2
    runs, begin, pattern = [], 0, None
    for i in range(n):
        start = min(i * t, length - t)
        key = tuple(
            min(max(start + q - half, 0), length - kernel_size) - start + half
            for q in range(t))
        if i and key != pattern:
            runs.append((begin, i))
            begin = i
        pattern = key
    runs.append((begin, n))
    return runs


def _is_identity(index, length):
    """Whether the gather ``index`` of a plan is ``arange(length)``. A plan's tiles
    start at multiples of the tile (the last one clamped) and key tiles overlap, so it
    is exactly when the index has ``length`` entries; for a symbolic size (export) not
    known without fixing it, so False and the gather serves every size."""
    return isinstance(length, int) and index.numel() == length


def _tiles(x, index_h, index_w, n_h, t_h, n_w, t_w):
    """(B, h, H, W, d) -> (B, h, n_h, n_w, t_h * t_w, d) tiles at the given rows/cols."""
    if not _is_identity(index_h, x.shape[2]):
        x = x.index_select(2, index_h)
    if not _is_identity(index_w, x.shape[3]):
        x = x.index_select(3, index_w)
    b, h, _, _, d = x.shape
    x = x.view(b, h, n_h, t_h, n_w, t_w, d).permute(0, 1, 2, 4, 3, 5, 6)
    return x.reshape(b, h, n_h, n_w, t_h * t_w, d)


def neighborhood_attention(q, k, v, rpb, kernel_size=7, tile_size=8, scale=None,
                           dropout_p=0.):
    """NATTEN 0.14.6's 2-D neighborhood attention with relative-position bias.

    Args:
        q, k, v (Tensor): (B, heads, H, W, head_dim), ``H, W >= kernel_size``.
        rpb (Tensor): (heads, 2k - 1, 2k - 1).
        kernel_size (int): The odd window size k. Defaults to 7.
        tile_size (int): Query tile side. Defaults to 8.
        scale (float, optional): Logit scale; ``head_dim ** -0.5`` if None.
        dropout_p (float): Attention dropout. Defaults to 0.

    Returns:
        Tensor: (B, heads, H, W, head_dim).
    """
    b, heads, height, width, dim = q.shape
    half = kernel_size // 2
    plan_h = _axis_plan(height, kernel_size, tile_size, q.device)
    plan_w = _axis_plan(width, kernel_size, tile_size, q.device)
    (n_h, t_h, s_h), (n_w, t_w, s_w) = plan_h[-1], plan_w[-1]
    q_t = _tiles(q, plan_h[0], plan_w[0], n_h, t_h, n_w, t_w)
    pad = (0, 0, half, half, half, half)
    k_t = _tiles(F.pad(k, pad), plan_h[1], plan_w[1], n_h, s_h, n_w, s_w)
    v_t = _tiles(F.pad(v, pad), plan_h[1], plan_w[1], n_h, s_h, n_w, s_w)
    bias = rpb[:, plan_h[3][:, None, :, None], plan_w[3][None, :, None, :]]
    bias = bias.to(q.dtype)  # (heads, t_h, t_w, s_h, s_w)
    if plan_h[5] is None or plan_w[5] is None:
        # Symbolic size (export): the number of tiles is not known, so every tile
        # gets its own mask in one call; the same masks as the runs below.
        inside = (
            plan_h[2][:, None, :, None, :, None] & plan_w[2][None, :, None, :, None, :])
        mask = bias[:, None, None].masked_fill(~inside, float('-inf'))
        tiles = heads * n_h * n_w  # 4-D for SDPA (and ONNX's lowering of it)
        mask = mask.reshape(1, tiles, t_h * t_w, s_h * s_w)
        out = F.scaled_dot_product_attention(
            q_t.reshape(b, tiles, t_h * t_w, dim), k_t.reshape(b, tiles, s_h * s_w, dim),
            v_t.reshape(b, tiles, s_h * s_w, dim), attn_mask=mask, dropout_p=dropout_p,
            scale=scale)
        out = out.view(b, heads, n_h, n_w, t_h * t_w, dim)
        return _untile(out, plan_h, plan_w, b, heads, height, width, dim)
    rows = []
    for r0, r1 in plan_h[5]:
        cols = []
        for c0, c1 in plan_w[5]:
            inside = plan_h[2][r0][:, None, :, None] & plan_w[2][c0][None, :, None, :]
            mask = bias.masked_fill(~inside, float('-inf'))
            mask = mask.reshape(heads, 1, 1, t_h * t_w, s_h * s_w)
            cols.append(
                F.scaled_dot_product_attention(q_t[:, :, r0:r1, c0:c1], k_t[:, :, r0:r1,
                                                                            c0:c1],
                                               v_t[:, :, r0:r1, c0:c1], attn_mask=mask,
                                               dropout_p=dropout_p, scale=scale))
        rows.append(torch.cat(cols, dim=3) if len(cols) > 1 else cols[0])
    out = torch.cat(rows, dim=2) if len(rows) > 1 else rows[0]
    return _untile(out, plan_h, plan_w, b, heads, height, width, dim)


def _untile(out, plan_h, plan_w, b, heads, height, width, dim):
    """(B, h, n_h, n_w, t_h * t_w, d) tiled outputs -> (B, h, H, W, d)."""
    (n_h, t_h, _), (n_w, t_w, _) = plan_h[-1], plan_w[-1]
    out = out.view(b, heads, n_h, n_w, t_h, t_w, dim).permute(0, 1, 2, 4, 3, 5, 6)
    out = out.reshape(b, heads, n_h * t_h, n_w * t_w, dim)
    if not isinstance(height, int) or n_h * t_h != height:
        out = out.index_select(2, plan_h[4])
    if not isinstance(width, int) or n_w * t_w != width:
        out = out.index_select(3, plan_w[4])
    return out


@MODELS.register_module()
class NeighborhoodAttention(BaseModule):
    """Neighborhood attention with relative-position bias; ``forward(x, hw_shape)``.

    Parameter names are DAT++'s published ones (``qkv``, ``rpb``, ``proj``).

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads; C must be divisible by it.
        kernel_size (int): Odd window size. Defaults to 7.
        qkv_bias (bool): Bias of the qkv projection. Defaults to True.
        attn_drop (float): Attention dropout. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        tile_size (int): Query tile side of the computation (speed / memory only, the
            result does not depend on it). Defaults to 8.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, embed_dims, num_heads, kernel_size=7, qkv_bias=True, attn_drop=0.,
                 proj_drop=0., tile_size=8, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not (isinstance(kernel_size, int) and kernel_size > 1 and kernel_size % 2):
            raise ValueError(f'NeighborhoodAttention: kernel_size must be an odd integer '
                             f'> 1, got {kernel_size!r}')
        if embed_dims % num_heads:
            raise ValueError(f'NeighborhoodAttention: embed_dims ({embed_dims}) must be '
                             f'divisible by num_heads ({num_heads})')
        if not (isinstance(tile_size, int) and tile_size >= kernel_size // 2 + 1):
            raise ValueError(f'NeighborhoodAttention: tile_size must be an integer >= '
                             f'{kernel_size // 2 + 1}, got {tile_size!r}')
        self.num_heads = num_heads
        self.kernel_size = kernel_size
        self.tile_size = tile_size
        self.scale = (embed_dims // num_heads)**-0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.rpb = nn.Parameter(
            torch.zeros(num_heads, 2 * kernel_size - 1, 2 * kernel_size - 1))
        trunc_normal_(self.rpb, std=.02, a=-2., b=2.)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, hw_shape):
        """``x`` (B, N, C) row-major tokens of an ``hw_shape`` map -> (B, N, C)."""
        b, n, c = x.shape
        height, width = hw_shape
        if n != height * width:
            raise ValueError(f'NeighborhoodAttention: {n} tokens do not form a '
                             f'{height}x{width} map')
        x = x.view(b, height, width, c)
        ph, pw = max(height, self.kernel_size), max(width, self.kernel_size)
        if (ph, pw) != (height, width):
            x = F.pad(x, (0, 0, 0, pw - width, 0, ph - height))
        qkv = self.qkv(x).view(b, ph, pw, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(3, 0, 4, 1, 2, 5).unbind(0)
        out = neighborhood_attention(q, k, v, self.rpb, self.kernel_size, self.tile_size,
                                     scale=self.scale,
                                     dropout_p=self.attn_drop if self.training else 0.)
        out = out.permute(0, 2, 3, 1, 4).reshape(b, ph, pw, c)
        if (ph, pw) != (height, width):
            out = out[:, :height, :width]
        return self.proj_drop(self.proj(out.reshape(b, height * width, c)))
