"""Focused linear attention (Han et al., "FLatten Transformer: Vision Transformer using
Focused Linear Attention", ICCV 2023).

Linear attention ``phi(Q) (phi(K)^T V)`` with the focused mapping

    phi(x) = ||x'|| * x'^p / ||x'^p||,   x' = (ReLU(x) + 1e-6) / softplus(s)

(p the focusing factor, s a learned per-channel scale, norms over all channels), keys
carrying a learned positional encoding, and a depthwise conv of V (one kernel shared by
the heads) that restores the rank the linear form loses. Cost is linear in tokens.

The normalised product is :func:`~mmagent.models.layers.linear_attention.linear_attention`
(shared with MLLA), the authors' current, numerically stable form. Under autocast the
whole operation runs in float32 (``x^p`` of half-precision activations overflows),
the projections around it in the autocast dtype.

Parameter names follow the published checkpoints (``scale``, ``positional_encoding``,
``dwc``, and ``q``/``kv`` or ``qkv``, ``proj``).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmagent.registry import MODELS
from .linear_attention import linear_attention, recompute_in_backward
from .windows import resize_pos_embed

__all__ = [
    'FocusedLinearAttention', 'FocusedLinearCore', 'focused_linear',
    'resize_positional_encoding', 'shared_dwc'
]


def resize_positional_encoding(pos, pretrain_hw, hw_shape):
    """(1, R0*R1, C) positional encoding -> (1, H*W, C), bilinear (align_corners=False)
    over its grid; returned as it is when the map is the pretraining one."""
    return resize_pos_embed(pos, pretrain_hw, hw_shape)


def focused_linear(q, k, v, scale, num_heads, focusing_factor, k_pos=None):
    """Focused linear attention of q (B, N, C) over k (plus ``k_pos``, broadcast), v
    (B, n, C); heads on the channel axis; returns (B, N, C). ``scale`` is the raw
    (1, 1, C) parameter (softplus here). Runs in float32 whatever the inputs' dtype,
    and returns that dtype; in training its intermediates are recomputed in backward
    (:func:`~mmagent.models.layers.linear_attention.recompute_in_backward`)."""
    if k_pos is not None and not torch.is_grad_enabled():
        # inference: the positional term is added here and dropped (a caller passing
        # it inline frees it at once), and the sum is handed on with no reference
        # left in this frame (``keys.pop()``), so that it is focused in place and
        # freed as soon as the attention has used it
        keys = [k + k_pos.to(k.dtype)]
        del k, k_pos
        return _focused_linear(q, keys.pop(), v, scale, num_heads, focusing_factor, None,
                               True)
    return recompute_in_backward(_focused_linear, q, k, v, scale, num_heads,
                                 focusing_factor, k_pos)


def _focused_linear(q, k, v, scale, num_heads, focusing_factor, k_pos, k_owned=False):
    if k_pos is not None:
        k = k + k_pos.to(k.dtype)
        k_owned = True
    dtype = q.dtype
    with torch.autocast(q.device.type, enabled=False):
        q32, v, scale = q.float(), v.float(), scale.float()
        keys = [k.float()]
        k_owned = k_owned or keys[0] is not k
        del k  # the key map lives on only in ``keys`` (see focused_linear)
        s = F.softplus(scale)

        def focus(x, owned):
            if not torch.is_grad_enabled():  # the same steps in at most one new tensor
                x = (x.relu_() if owned else F.relu(x)).add_(1e-6).div_(s)
                norm = x.norm(dim=-1, keepdim=True)
                x.pow_(focusing_factor)
                return x.div_(x.norm(dim=-1, keepdim=True)).mul_(norm)
            x = (F.relu(x) + 1e-6) / s
            norm = x.norm(dim=-1, keepdim=True)
            x = x**focusing_factor
            return x / x.norm(dim=-1, keepdim=True) * norm

        # a map is focused in place only where it is a temporary of this call
        out = linear_attention(
            focus(q32, q32 is not q), focus(keys.pop(), k_owned), v, num_heads)
    return out.to(dtype)


def shared_dwc(conv, v, hw_shape, num_heads):
    """The depthwise conv ``conv`` (head_dim channels, shared by the heads) of V
    (B, N, C) viewed as a map per head; returns (B, N, C)."""
    b, n, c = v.shape
    d = c // num_heads
    v_map = v.reshape(b, n, num_heads, d).permute(0, 2, 3,
                                                  1).reshape(b * num_heads, d, *hw_shape)
    return conv(v_map).reshape(b, c, n).transpose(1, 2)


class FocusedLinearCore(nn.Module):
    """The focused-linear step without projections: the learned ``scale``, the key
    ``positional_encoding`` (sized for ``pretrain_hw``, resized to other maps) and the
    head-shared depthwise conv ``dwc`` of V. FLatten-CSwin's branches build on this
    directly (their block owns the projections); :class:`FocusedLinearAttention` adds
    the projections for FLatten-PVT, -PVTv2 and -Swin.
    """

    def __init__(self, embed_dims, num_heads, pretrain_hw, focusing_factor=3,
                 kernel_size=5):
        super().__init__()
        if num_heads <= 0 or embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by '
                             f'num_heads ({num_heads})')
        if isinstance(focusing_factor,
                      bool) or not isinstance(focusing_factor,
                                              (int, float)) or focusing_factor <= 0:
            raise ValueError(f'focusing_factor must be a positive number, got '
                             f'{focusing_factor!r}')
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be a positive odd integer, got '
                             f'{kernel_size!r}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.focusing_factor = focusing_factor
        self.pretrain_hw = tuple(pretrain_hw)
        head_dims = embed_dims // num_heads
        self.dwc = nn.Conv2d(head_dims, head_dims, kernel_size, padding=kernel_size // 2,
                             groups=head_dims)
        self.scale = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.positional_encoding = nn.Parameter(
            torch.zeros(1, self.pretrain_hw[0] * self.pretrain_hw[1], embed_dims))

    def attend(self, q, k, v, kv_hw):
        """Focused linear attention of q over k (plus the positional encoding resized
        to the key map ``kv_hw``) and v; (B, N, C)."""
        # passed inline: in inference focused_linear frees it after adding it to k
        return focused_linear(
            q, k, v, self.scale, self.num_heads, self.focusing_factor,
            k_pos=resize_positional_encoding(self.positional_encoding, self.pretrain_hw,
                                             kv_hw))

    def conv_v(self, v, hw_shape):
        """The depthwise conv of V (B, N, C) on the ``hw_shape`` map (its per-head
        copy of V recomputed in backward, not kept)."""
        return recompute_in_backward(shared_dwc, self.dwc, v, hw_shape, self.num_heads)


@MODELS.register_module()
class FocusedLinearAttention(FocusedLinearCore):
    """Focused linear attention over a whole H x W token map.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads; must divide ``embed_dims``.
        pretrain_hw (tuple[int]): The token map (R0, R1) at pretraining: sizes
            ``positional_encoding`` (for the keys, reduced by ``sr_ratio``). On another
            map the encoding is resized to it (bilinear over its grid), as the agent
            biases are.
        qkv_layout (str): ``'qkv'`` (FLatten-Swin) or ``'q_kv'`` (FLatten-PVT/PVTv2).
        qkv_bias (bool): Defaults to True.
        sr_ratio (int): PVT's spatial reduction of keys/values (a strided conv and a
            LayerNorm); the published models use 1. With ``sr_ratio > 1`` the conv of V
            runs on V resized (linearly, along the token sequence) to the query count,
            as the authors' code does. Defaults to 1.
        focusing_factor (float): p. Defaults to 3.
        kernel_size (int): Kernel of the depthwise conv. Defaults to 5.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
    """

    def __init__(self, embed_dims, num_heads, pretrain_hw, qkv_layout='qkv',
                 qkv_bias=True, sr_ratio=1, focusing_factor=3, kernel_size=5,
                 proj_drop=0.):
        if qkv_layout not in ('qkv', 'q_kv'):
            raise ValueError(f"qkv_layout must be 'qkv' or 'q_kv', got {qkv_layout!r}")
        super().__init__(embed_dims, num_heads,
                         tuple(int(s) // sr_ratio for s in pretrain_hw),
                         focusing_factor=focusing_factor, kernel_size=kernel_size)
        self.qkv_layout = qkv_layout
        self.sr_ratio = sr_ratio
        if qkv_layout == 'qkv':
            self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        else:
            self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
            self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def extra_repr(self):
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'focusing_factor={self.focusing_factor}, pretrain_hw={self.pretrain_hw}')

    def forward(self, x, hw_shape):
        b, n, c = x.shape
        if n != hw_shape[0] * hw_shape[1]:
            raise ValueError(f'FocusedLinearAttention got {n} tokens for a map of '
                             f'{hw_shape[0]}x{hw_shape[1]}')
        kv_hw = hw_shape
        if self.qkv_layout == 'qkv':
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        else:
            q = self.q(x)
            if self.sr_ratio > 1:
                x = self.sr(x.transpose(1, 2).unflatten(2, hw_shape))
                kv_hw = (x.shape[2], x.shape[3])
                x = self.norm(x.flatten(2).transpose(1, 2))
            k, v = self.kv(x).chunk(2, dim=-1)
        out = self.attend(q, k, v, kv_hw)
        if self.sr_ratio > 1:  # V back to N tokens, per head along the sequence
            d = c // self.num_heads
            v = F.interpolate(
                v.reshape(b, -1, self.num_heads,
                          d).permute(0, 2, 3, 1).reshape(b * self.num_heads, d, -1),
                size=n, mode='linear')
            v = v.reshape(b, self.num_heads, d, n).permute(0, 3, 1, 2).reshape(b, n, c)
        out = out.add_(self.conv_v(v, hw_shape)) if not torch.is_grad_enabled() else (
            out + self.conv_v(v, hw_shape))  # inference: in place
        return self.proj_drop(self.proj(out))
