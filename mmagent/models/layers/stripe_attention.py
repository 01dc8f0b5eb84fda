"""CSWin's stripe attention with LePE (Dong et al., CVPR 2022), as a registered
attention of the CSwin host.

A CSwin block owns the ``qkv`` and ``proj`` projections (the published layout), and
its branches take q, k, v: attentions of this kind set ``takes_qkv = True`` and have
``forward(q, k, v, hw_shape)`` on (B, N, C') each.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmagent.registry import MODELS
from .windows import from_windows, known_zero, to_windows

__all__ = ['CSWinStripeAttention', 'lepe']


def lepe(conv, v, window):
    """LePE: the depthwise conv of V inside each window (zero outside it); (B', L, C)."""
    wh, ww = window
    v_map = v.unflatten(1, (wh, ww)).permute(0, 3, 1, 2)
    return conv(v_map).flatten(2).transpose(1, 2)


@MODELS.register_module()
class CSWinStripeAttention(nn.Module):
    """CSWin's stripe attention for one branch of a block.

    Args:
        embed_dims (int): Channels of this branch.
        num_heads (int): Heads of this branch.
        idx (int): 0: vertical stripes ``split_size`` columns wide spanning the map's
            height; 1: horizontal stripes ``split_size`` rows high spanning its width;
            -1: the whole map. The CSwin host sets it (two branches 0 and 1 on half
            the channels each, or one branch -1). Defaults to -1.
        split_size (int): Stripe width. Defaults to 7.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.

    On maps that the stripe width does not divide, the map is zero-padded at the
    bottom/right and the padded tokens are masked out as keys, so the result does not
    depend on the padding.
    """
    takes_qkv = True
    #: the CSwin host splits the heads between two stripe directions for this one
    directional = True

    def __init__(self, embed_dims, num_heads, idx=-1, split_size=7, attn_drop=0.):
        super().__init__()
        if idx not in (-1, 0, 1):
            raise ValueError(f'CSWinStripeAttention idx must be -1, 0 or 1, got {idx!r}')
        self.num_heads = num_heads
        self.idx = idx
        self.split_size = split_size
        self.scale = (embed_dims // num_heads)**-0.5
        self.attn_drop = attn_drop
        self.get_v = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def window(self, hw_shape):
        height, width = hw_shape
        return {
            -1: (height, width),
            0: (height, self.split_size),
            1: (self.split_size, width)
        }[self.idx]

    def key_mask(self, hw_shape, window, batch, device):
        """(B * nW, 1, 1, L) True for real tokens, or None when nothing is padded."""
        if known_zero(hw_shape[0] % window[0], hw_shape[1] % window[1]):
            return None
        real = torch.ones(1, hw_shape[0] * hw_shape[1], 1, device=device)
        real = to_windows(real, hw_shape, window)[..., 0] > 0  # (nW, L)
        return real[:, None, None, :].repeat(batch, 1, 1, 1)

    def forward(self, q, k, v, hw_shape):
        batch, _, channels = q.shape
        window = self.window(hw_shape)
        q, k, v = (to_windows(t, hw_shape, window) for t in (q, k, v))

        def split_heads(t):  # (B', L, C) -> (B', h, L, d)
            return t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split_heads(q), split_heads(k), split_heads(v),
            attn_mask=self.key_mask(hw_shape, window, batch, q.device),
            dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        out = out.transpose(1, 2).flatten(2) + lepe(self.get_v, v, window)
        return from_windows(out, hw_shape, window, batch)
