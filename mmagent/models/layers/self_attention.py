"""Plain multi-head softmax attention over all tokens (the attention of the DeiT
host), as a registered attention."""
import torch.nn as nn
import torch.nn.functional as F

from mmagent.registry import MODELS

__all__ = ['DeiTSelfAttention']


@MODELS.register_module()
class DeiTSelfAttention(nn.Module):
    """Multi-head softmax attention over every token (a class token included), via
    SDPA.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        qkv_bias (bool): Defaults to True.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.

    ``forward(x, hw_shape)``; ``hw_shape`` is not needed. Published names ``qkv``,
    ``proj``.
    """

    def __init__(self, embed_dims, num_heads, qkv_bias=True, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads)**-0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, hw_shape=None):
        q, k, v = (
            t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
            for t in self.qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).flatten(2)))
