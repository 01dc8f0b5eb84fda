"""MLLA's linear attention (Han et al., "Demystify Mamba in Vision: A Linear
Attention Perspective", NeurIPS 2024) as a registered attention: ELU+1 kernel, 2-D
RoPE on queries and keys, LePE depthwise conv on values."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmagent.registry import MODELS
from .linear_attention import linear_attention, recompute_in_backward
from .windows import map_view, tokens

__all__ = ['MLLALinearAttention', 'rope_2d']


def rope_2d(x, hw_shape, base=10000):
    """2-D rotary position embedding over the whole channel axis, for the actual map.

    ``x`` (B, N, C) with N = H * W row-major and C divisible by 4: channel pairs
    (2j, 2j + 1) are rotated by ``row * theta_j`` for the first C/4 pairs and by
    ``col * theta_j`` for the last C/4, ``theta_j = base ** (-j / (C/4))``.
    """
    h, w = hw_shape
    k = x.shape[-1] // 4
    theta = 1 / (base**(torch.arange(k, device=x.device) / k))
    rows = torch.arange(h, device=x.device)[:, None] * theta  # (H, k)
    cols = torch.arange(w, device=x.device)[:, None] * theta  # (W, k)
    angles = torch.cat([rows[:, None, :].expand(h, w, k), cols[None].expand(h, w, k)],
                       dim=-1).reshape(h * w, 2 * k)
    cos, sin = torch.cos(angles), torch.sin(angles)
    pairs = x.unflatten(-1, (2 * k, 2))
    re, im = pairs[..., 0], pairs[..., 1]
    return torch.stack([re * cos - im * sin, im * cos + re * sin], dim=-1).flatten(-2)


@MODELS.register_module()
class MLLALinearAttention(nn.Module):
    """MLLA's linear attention with RoPE and LePE; ``forward(x, hw_shape)``.

    Queries and keys are ``elu(.) + 1`` of one projection ``qk``; values are the input.
    Per head, ``out = (rope(q) @ (rope(k)^T v) / N) / (q @ mean(k)^T + 1e-6)``, then
    ``+ lepe(v)``. The products and the normaliser are computed in float32 whatever the
    autocast dtype (the authors found fp16 unstable here), and cast back.

    Args:
        embed_dims (int): Channels C; divisible by 4 (2-D RoPE).
        num_heads (int): Heads.
        qkv_bias (bool): Bias of ``qk``. Defaults to True.

    It has no output projection of its own: in the MLLA host the block's ``out_proj``
    follows it; in other hosts it is used as it is.
    """

    def __init__(self, embed_dims, num_heads, qkv_bias=True):
        super().__init__()
        if embed_dims % 4:
            raise ValueError(f'MLLALinearAttention needs embed_dims divisible by 4 '
                             f'(2-D RoPE), got {embed_dims}')
        self.num_heads = num_heads
        self.qk = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.lepe = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def forward(self, x, hw_shape):
        # in training the core's intermediates are recomputed in backward (see
        # recompute_in_backward): only x and the qk projection are kept
        out = recompute_in_backward(self._core, self.qk(x), x, hw_shape)
        return out + tokens(self.lepe(map_view(x, hw_shape)))

    def _core(self, qk, x, hw_shape):
        q, k = (F.elu(t) + 1.0 for t in qk.chunk(2, dim=-1))
        with torch.autocast(x.device.type, enabled=False):
            q, k = q.float(), k.float()
            return linear_attention(q, k, x.float(), self.num_heads,
                                    q_num=rope_2d(q, hw_shape),
                                    k_num=rope_2d(k, hw_shape)).to(x.dtype)
