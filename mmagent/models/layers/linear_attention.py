"""The normalised linear attention product that MLLA and FLatten share."""

__all__ = ['linear_attention']


def linear_attention(q, k, v, num_heads, q_num=None, k_num=None):
    """Per head ``(q' (k'^T v) / n) / (q . mean(k) + 1e-6)`` on (B, N, C) q and (B, n, C)
    k, v, heads on the channel axis; returns (B, N, C).

    ``q' = q_num``, ``k' = k_num`` when given (MLLA rotates them by RoPE for the
    numerator only), else q and k. Keys and values are each scaled by ``n ** -0.5``
    before ``K^T V`` and the denominator uses the mean key, so the sums stay of order
    one at any map size (the authors' current normalisation). Callers run it in float32.
    """

    def split(t):  # (B, L, C) -> (B, h, L, d)
        return t.unflatten(-1, (num_heads, -1)).transpose(1, 2)

    n = k.shape[1]
    qh, kh, vh = split(q), split(k), split(v)
    q_num = qh if q_num is None else split(q_num)
    k_num = kh if k_num is None else split(k_num)
    z = 1 / (qh @ kh.mean(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
    kv = (k_num.transpose(-2, -1) * n**-0.5) @ (vh * n**-0.5)
    return (q_num @ kv * z).transpose(1, 2).flatten(2)
