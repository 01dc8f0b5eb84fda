"""Swin's (shifted) window attention as a registered attention,
``forward(x, hw_shape)`` on (B, N, C) tokens like every other attention."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from mmagent.registry import MODELS
from .windows import from_windows, pad_to_multiple, to_windows

__all__ = ['SwinWindowAttention', 'shift_mask']


def shift_mask(h_pad, w_pad, ws, shift, device):
    """The usual -100 mask for shifted windows on the padded map, (nW, ws*ws, ws*ws)."""
    img = torch.zeros((1, h_pad, w_pad, 1), device=device)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    win = to_windows(img.flatten(1, 2), (h_pad, w_pad), (ws, ws)).squeeze(-1)
    mask = win.unsqueeze(1) - win.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


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
        if not self.pad_small_map and min(h, w) <= ws:
            ws, shift = min(h, w), 0
        x = pad_to_multiple(x.view(b, h, w, c), ws, channels_last=True)
        padded = (x.shape[1], x.shape[2])
        mask = None
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            mask = shift_mask(*padded, ws, shift, x.device)
        windows = to_windows(x.flatten(1, 2), padded, (ws, ws))
        x = from_windows(self.attend(windows, ws, mask), padded, (ws, ws), b)
        x = x.view(b, *padded, c)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x[:, :h, :w].reshape(b, h * w, c)
