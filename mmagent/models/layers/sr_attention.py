"""PVT's softmax attention with spatially reduced keys and values, as a registered
attention (the attention of the PVT and PVTv2 hosts)."""
import torch.nn as nn
import torch.nn.functional as F

from mmagent.registry import MODELS
from .windows import tokens

__all__ = ['PVTSRAttention']


@MODELS.register_module()
class PVTSRAttention(nn.Module):
    """Softmax attention whose keys/values come from the map reduced by a strided conv
    and a LayerNorm (PVT v1 / v2).

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        qkv_bias (bool): Defaults to True.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        sr_ratio (int): Stride of the key/value reduction (1: none). The PVT hosts
            pass their stage's ``sr_ratios[i]``. Defaults to 1.

    Parameter names are the published ones (``q``, ``kv``, ``sr``, ``norm``, ``proj``).
    """

    def __init__(self, embed_dims, num_heads, qkv_bias=True, attn_drop=0., proj_drop=0.,
                 sr_ratio=1):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads)**-0.5
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
            x = x.unflatten(1, hw_shape).permute(0, 3, 1, 2).contiguous()
            x = self.norm(tokens(self.sr(x)))
        k, v = self.kv(x).unflatten(-1, (2, heads, c // heads)).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, c)))
