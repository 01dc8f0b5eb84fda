"""A literal rendering of MLLA's linear attention (Han et al., NeurIPS 2024), written
from the paper and the behaviour of the authors' downstream backbone: ELU+1 kernels,
2-D RoPE as a complex rotation of channel pairs (row angles for the first half of the
pairs, column angles for the second half) on queries and keys only, the normaliser
from the un-rotated queries and mean key, keys and values scaled by 1/sqrt(N), and a
LePE depthwise conv on the values. Computed in float64, step by step.
``use_mlla_reference(model)`` routes every LinearAttention of a model through it."""
import types

import torch
import torch.nn.functional as F


def rope_complex(x, h, w, base=10000):
    """(B, H*W, C) -> rotated, through complex numbers."""
    c = x.shape[-1]
    k = c // 4
    theta = 1.0 / (base**(torch.arange(k, dtype=torch.float64) / k))
    ii, jj = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
        indexing='ij')
    angles = torch.cat([ii[..., None] * theta, jj[..., None] * theta], -1)  # (h, w, c/2)
    rot = torch.polar(torch.ones_like(angles), angles).reshape(h * w, c // 2)
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], c // 2, 2).contiguous())
    return torch.view_as_real(z * rot).flatten(-2)


def reference_linear_attention(m, x, hw_shape):
    b, n, c = x.shape
    h, w = hw_shape
    heads = m.num_heads
    d = c // heads
    dtype = x.dtype
    qk = F.linear(x, m.qk.weight, m.qk.bias).double()
    q, k = F.elu(qk[..., :c]) + 1, F.elu(qk[..., c:]) + 1
    v = x.double()
    qr, kr = rope_complex(q, h, w), rope_complex(k, h, w)

    def split(t):
        return t.reshape(b, n, heads, d).permute(0, 2, 1, 3)

    q, k, v, qr, kr = map(split, (q, k, v, qr, kr))
    norm = 1.0 / (q @ k.mean(dim=2, keepdim=True).transpose(-2, -1) + 1e-6)
    kv = (kr / n**0.5).transpose(-2, -1) @ (v / n**0.5)
    out = ((qr @ kv) * norm).permute(0, 2, 1, 3).reshape(b, n, c).to(dtype)
    vmap = x.reshape(b, h, w, c).permute(0, 3, 1, 2)
    return out + m.lepe(vmap).permute(0, 2, 3, 1).reshape(b, n, c)


def use_mlla_reference(model):
    from mmagent.models.backbones.mlla import LinearAttention
    for mod in model.modules():
        if isinstance(mod, LinearAttention):
            mod.forward = types.MethodType(reference_linear_attention, mod)
    return model
