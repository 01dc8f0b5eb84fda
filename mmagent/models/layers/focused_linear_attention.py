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
from .cpu_kernels import is_capturing
from .linear_attention import _per_head_product, linear_attention, recompute_in_backward
from .windows import resize_pos_embed

__all__ = [
    'FocusedLinearAttention', 'FocusedLinearCore', 'focused_linear',
    'resize_positional_encoding', 'shared_dwc'
]


def resize_positional_encoding(pos, pretrain_hw, hw_shape):
    """(1, R0*R1, C) positional encoding -> (1, H*W, C), bilinear (align_corners=False)
    over its grid; returned as it is when the map is the pretraining one."""
    return resize_pos_embed(pos, pretrain_hw, hw_shape)


def focused_linear(q, k, v, scale, num_heads, focusing_factor, k_pos=None, add_to=None,
                   k_pos_owned=False):
    """Focused linear attention of q (B, N, C) over k (plus ``k_pos``, broadcast), v
    (B, n, C); heads on the channel axis; returns (B, N, C). ``scale`` is the raw
    (1, 1, C) parameter (softplus here). Runs in float32 whatever the inputs' dtype,
    and returns that dtype; in training its intermediates are recomputed in backward
    (:func:`~mmagent.models.layers.linear_attention.recompute_in_backward`).

    ``add_to`` (B, N, C), if given, is added to the result. In eager inference the
    product is added into it in place (and it is returned), and the focused key map
    is reduced to ``K^T V`` and its mean and freed before the queries are focused:
    one token-sized map at a time besides ``add_to``. ``k_pos_owned``: the caller
    made ``k_pos`` for this call and keeps no reference, so inference may add ``k``
    into it in place (with one image it is as large as ``k``).
    """
    if not torch.is_grad_enabled() and not is_capturing():
        if k_pos is None:
            keys = [k]
        elif (k_pos_owned and k_pos.shape == k.shape and k_pos.is_contiguous()
              and k_pos.dtype == torch.float32):
            keys = [k_pos.add_(k)]
        else:
            keys = [k + k_pos.to(k.dtype)]
        owned = k_pos is not None
        del k, k_pos
        return _focused_inference(q, keys, owned, v, scale, num_heads, focusing_factor,
                                  add_to)
    out = recompute_in_backward(_focused_linear, q, k, v, scale, num_heads,
                                focusing_factor, k_pos)
    return out if add_to is None else add_to + out


def _focus_(x, s, p):
    """The focused map of ``x`` made in place (inference; ``x`` owned, float32)."""
    x = x.relu_().add_(1e-6).div_(s)
    norm = x.norm(dim=-1, keepdim=True)
    x.pow_(p)
    return x.div_(x.norm(dim=-1, keepdim=True)).mul_(norm)


def _owned_float(x, owned):
    """``x`` as a contiguous float32 tensor this call may change in place: ``x`` itself
    where the caller gave it away (``owned``) and it is one already."""
    if owned and x.dtype == torch.float32 and x.is_contiguous():
        return x
    return x.to(torch.float32, memory_format=torch.contiguous_format, copy=True)


def _focused_inference(q, keys, owned, v, scale, num_heads, p, add_to):
    """:func:`focused_linear` without gradients. ``keys`` is a one-element list with
    the key map; ``owned``: the caller made it (``k + k_pos``) and holds no other
    reference, so it is focused in place and freed once reduced."""
    dtype = q.dtype
    with torch.autocast(q.device.type, enabled=False):
        s = F.softplus(scale.float())
        k = _focus_(_owned_float(keys.pop(), owned), s, p)
        b, n, _ = k.shape
        kh = k.view(b, n, num_heads, -1).transpose(1, 2)  # (B, h, n, d)
        k_mean = kh.mean(dim=-2, keepdim=True).transpose(-2, -1)  # (B, h, d, 1)
        vh = v.float().unflatten(-1, (num_heads, -1)).transpose(1, 2)
        kv = (kh.transpose(-2, -1) @ vh) * (1 / n)  # (B, h, d, d)
        del k, kh, vh  # freed before the queries are focused
        qf = _focus_(_owned_float(q, False), s, p)
        qh = qf.view(*qf.shape[:2], num_heads, -1)  # (B, N, h, d)
        # 1 / (q' . mean(k') + 1e-6) scales q' rather than the result: the same
        # product up to rounding, in the buffer q' already is
        qh.mul_((qh.transpose(1, 2) @ k_mean).add_(1e-6).reciprocal_().transpose(1, 2))
        if add_to is not None and add_to.dtype == torch.float32:
            return _per_head_product(qf, kv, add_to)
        out = _per_head_product(qf, kv).to(dtype)
    return out if add_to is None else add_to.add_(out)


def _focused_linear(q, k, v, scale, num_heads, focusing_factor, k_pos):
    """:func:`focused_linear` in training, and in inference under graph capture."""
    if k_pos is not None:
        k = k + k_pos.to(k.dtype)
    dtype = q.dtype
    with torch.autocast(q.device.type, enabled=False):
        q, k, v, scale = q.float(), k.float(), v.float(), scale.float()
        s = F.softplus(scale)

        def focus(x):
            if not torch.is_grad_enabled():  # the same steps in one new tensor
                return _focus_(x.clone(), s, focusing_factor)
            x = (F.relu(x) + 1e-6) / s
            norm = x.norm(dim=-1, keepdim=True)
            x = x**focusing_factor
            return x / x.norm(dim=-1, keepdim=True) * norm

        out = linear_attention(focus(q), focus(k), v, num_heads)
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

    def attend(self, q, k, v, kv_hw, add_to=None):
        """Focused linear attention of q over k (plus the positional encoding resized
        to the key map ``kv_hw``) and v; (B, N, C), added to ``add_to`` if given (in
        inference in place: see :func:`focused_linear`)."""
        pos = [
            resize_positional_encoding(self.positional_encoding, self.pretrain_hw, kv_hw)
        ]
        owned = pos[0] is not self.positional_encoding  # resized: made for this call
        # handed on without a reference here: in inference focused_linear adds k into
        # a resized encoding in place, and frees the key map once reduced
        return focused_linear(q, k, v, self.scale, self.num_heads, self.focusing_factor,
                              k_pos=pos.pop(), add_to=add_to, k_pos_owned=owned)

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
        if self.sr_ratio == 1 and not torch.is_grad_enabled():
            # inference: the conv of V first, the attention added into it
            return self.proj_drop(
                self.proj(self.attend(q, k, v, kv_hw, add_to=self.conv_v(v, hw_shape))))
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
