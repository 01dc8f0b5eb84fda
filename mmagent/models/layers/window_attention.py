"""Swin's (shifted) window attention as a registered attention,
``forward(x, hw_shape)`` on (B, N, C) tokens like every other attention."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from mmagent.registry import MODELS
from .windows import from_windows, known_zero, pad_to_multiple, to_windows

__all__ = ['SwinWindowAttention', 'shift_mask']


def shift_mask(h_pad, w_pad, ws, shift, device):
    """The usual -100 mask for shifted windows on the padded map, (nW, ws*ws, ws*ws):
    tokens of one window attend to each other only within the same of the nine regions
    that the cyclic shift brings together. Written with comparisons, so ``shift`` may
    be a symbolic size, 0 included (then every window is one region)."""
    rows = torch.arange(h_pad, device=device)
    cols = torch.arange(w_pad, device=device)
    region_h = (rows >= h_pad - ws).long() + (rows >= h_pad - shift).long()
    region_w = (cols >= w_pad - ws).long() + (cols >= w_pad - shift).long()
    img = (region_h[:, None] * 3 + region_w[None, :]).to(torch.float32)
    win = to_windows(img.reshape(1, h_pad * w_pad, 1), (h_pad, w_pad),
                     (ws, ws)).squeeze(-1)
    mask = win.unsqueeze(1) - win.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


def _roll(x, shift):
    """``torch.roll`` of a (B, H, W, C) map by ``shift`` on H and W; for a symbolic
    shift (export) as a gather, since ONNX's lowering of ``roll`` takes constants."""
    if isinstance(shift, int):
        return torch.roll(x, shifts=(shift, shift), dims=(1, 2))
    for dim in (1, 2):
        n = x.shape[dim]
        index = torch.arange(n, device=x.device) - shift  # |shift| < n: one wrap
        index = torch.where(index < 0, index + n, index)
        x = x.index_select(dim, torch.where(index >= n, index - n, index))
    return x


def relative_index(ws):
    """(ws*ws, ws*ws) rows of the bias table for each query/key pair of a window."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(ws), torch.arange(ws),
                       indexing='ij')).flatten(1)  # 2, ws*ws
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[..., 0] * (2 * ws - 1) + rel[..., 1]


@MODELS.register_module()
class SwinWindowAttention(nn.Module):
    """Multi-head self-attention in (shifted) square windows with relative position
    bias, over a whole token map (the attention of Swin's host). Partition, cyclic
    shift, padding and the shift mask live here.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        window_size (int): Side of the square window. Defaults to 7.
        shift (bool): Shift the windows by ``window_size // 2`` (the Swin host sets it
            on every second block). Defaults to False.
        pad_small_map (bool): A map smaller than one window: ``True`` (downstream Swin)
            pads it to the window and keeps the shift; ``False`` (the ImageNet
            classifiers) shrinks the window to the map and does not shift.
            Defaults to True.
        qkv_bias (bool): Defaults to True.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.

    Parameter names are the published ones (``qkv``, ``proj``,
    ``relative_position_bias_table``).
    """

    def __init__(self, embed_dims, num_heads, window_size=7, shift=False,
                 pad_small_map=True, qkv_bias=True, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.pad_small_map = pad_small_map
        self.scale = (embed_dims // num_heads)**-0.5
        ws = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws - 1) * (2 * ws - 1), num_heads))
        # Derived from the window size: not stored in mmagent's checkpoints.
        self.register_buffer('relative_position_index', relative_index(ws),
                             persistent=False)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def small_map_rule(self, h, w):
        """``(window, shift)`` of the published classifiers on an ``h x w`` map: a
        map no larger than the window shrinks the window to it and does not shift.
        For symbolic sizes (export) the window cannot shrink, so the graph serves maps
        of at least one window (a constraint the exported program records), and the
        shift is a size expression that is 0 on a map of exactly one window."""
        ws, shift = self.window_size, self.shift_size
        if isinstance(h, int) and isinstance(w, int):
            return (min(h, w), 0) if min(h, w) <= ws else (ws, shift)
        side = torch.sym_min(h, w)
        torch._check(side >= ws)
        return ws, shift * torch.sym_min(side - ws, 1)

    def position_bias(self, ws):
        """(h, ws*ws, ws*ws) relative position bias of a ``ws`` window (``ws`` may be
        smaller than the table's window when a small map shrinks it)."""
        index = self.relative_position_index
        if ws != self.window_size:  # rows of the full table for the smaller window
            full = 2 * self.window_size - 1
            small = relative_index(ws).to(index.device)
            dr, dc = small // (2 * ws - 1) - (ws - 1), small % (2 * ws - 1) - (ws - 1)
            index = (dr + self.window_size - 1) * full + (dc + self.window_size - 1)
        n = ws * ws
        return self.relative_position_bias_table[index.reshape(-1)].view(n, n,
                                                                         -1).permute(
                                                                             2, 0, 1)

    def attend(self, windows, ws, mask=None):
        """Softmax attention inside each window; windows (B * nW, ws*ws, C), mask
        (nW, ws*ws, ws*ws) of 0 / -100 or None."""
        bw, n, c = windows.shape
        heads = self.num_heads
        q, k, v = self.qkv(windows).unflatten(-1, (3, heads, c // heads)).permute(
            2, 0, 3, 1, 4)
        bias = self.position_bias(ws).unsqueeze(0)  # (1, h, n, n)
        if mask is not None:
            nw = mask.shape[0]
            bias = bias + mask.unsqueeze(1)  # (nW, h, n, n)
            bias = bias.unsqueeze(0).expand(bw // nw, -1, -1, -1,
                                            -1).reshape(bw, heads, n, n)
        # a 4-D contiguous mask: CUDA's fused kernels take nothing else
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype).contiguous(),
            dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(bw, n, c)))

    def forward(self, x, hw_shape):
        b, _, c = x.shape
        h, w = hw_shape
        ws, shift = self.window_size, self.shift_size
        if not self.pad_small_map:
            ws, shift = self.small_map_rule(h, w)
        x = pad_to_multiple(x.view(b, h, w, c), ws, channels_last=True)
        padded = (x.shape[1], x.shape[2])
        mask = None
        if self.shift_size and not known_zero(shift):
            x = _roll(x, -shift)
            mask = shift_mask(*padded, ws, shift, x.device)
        windows = to_windows(x.flatten(1, 2), padded, (ws, ws))
        x = from_windows(self.attend(windows, ws, mask), padded, (ws, ws), b)
        x = x.view(b, *padded, c)
        if mask is not None:
            x = _roll(x, shift)
        return x[:, :h, :w].reshape(b, h * w, c)
