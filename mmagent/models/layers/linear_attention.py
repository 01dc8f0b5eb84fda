"""The normalised linear attention product that MLLA and FLatten share, and how their
attention cores train within the memory of softmax attention."""
import torch
from torch.utils.checkpoint import checkpoint

from .cpu_kernels import is_capturing

__all__ = ['linear_attention', 'recompute_in_backward']


def recompute_in_backward(fn, *args):
    """``fn(*args)``; when it needs gradients, its intermediates are recomputed in
    backward instead of kept (``torch.utils.checkpoint``, non-reentrant, so autocast
    and ``torch.compile`` see it as one region).

    The linear-attention cores of FLatten and MLLA are chains of token-sized
    elementwise steps and thin products: kept for backward they held about ten
    token-sized float32 tensors per block, which took their training above the memory
    of the softmax backbones they replace. Recomputing them costs those cheap steps
    once more and keeps only the inputs. Inference runs ``fn`` as it is.
    """
    if torch.is_grad_enabled() and any(
            isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        return checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)


def linear_attention(q, k, v, num_heads, q_num=None, k_num=None):
    """Per head ``(q' (k'^T v) / n) / (q . mean(k) + 1e-6)`` on (B, N, C) q and (B, n, C)
    k, v, heads on the channel axis; returns (B, N, C).

    ``q' = q_num``, ``k' = k_num`` when given (MLLA rotates them by RoPE for the
    numerator only), else q and k. ``K^T V`` is divided by n (the authors scale keys and
    values each by ``n ** -0.5`` before it; in float32 the same up to rounding) and the
    denominator uses the mean key, so the sums stay of order one at any map size (the
    authors' current normalisation). Callers run it in float32.
    """

    def split(t):  # (B, L, C) -> (B, h, L, d)
        return t.unflatten(-1, (num_heads, -1)).transpose(1, 2)

    n = k.shape[1]
    numerator = q if q_num is None else q_num  # (B, N, C)
    qh, kh, vh = split(q), split(k), split(v)
    k_num = kh if k_num is None else split(k_num)
    z = 1 / (qh @ kh.mean(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
    # the 1/n is applied to the (d, d) product, not to two token-sized copies of K, V
    kv = (k_num.transpose(-2, -1) @ vh) * (1 / n)
    if not _eager_inference():
        return (split(numerator) @ kv * z).transpose(1, 2).flatten(2)
    # inference: each head's product written into its channels of one (B, N, C)
    # tensor (no (B, h, N, d) result and copy), the maps freed first; bitwise equal
    del q, k, qh, kh, k_num, q_num
    return _per_head_product(numerator, kv).unflatten(-1, (num_heads, -1)).mul_(
        z.transpose(1, 2)).flatten(2)


def _eager_inference():
    """No gradient and no graph capture (dynamo refuses ``out=`` tensors that are
    not contiguous)."""
    return not (torch.is_grad_enabled() or is_capturing())


def _per_head_product(x, kv, add_to=None):
    """(B, N, C) tokens times (B, h, d, d) per head, as a (B, N, C) tensor, or added
    into ``add_to`` (B, N, C) in place and returned."""
    out = x.new_empty(x.shape) if add_to is None else add_to
    d = kv.shape[-1]
    for b in range(x.shape[0]):
        for h in range(kv.shape[1]):
            rows, part = x[b, :, h * d:(h + 1) * d], out[b, :, h * d:(h + 1) * d]
            if add_to is None:
                torch.mm(rows, kv[b, h], out=part)
            else:
                part.addmm_(rows, kv[b, h])
    return out
