"""Literal renderings of DAT++ (from the paper and NATTEN 0.14.6's documented
behaviour), slow and plain, that mmagent's DAT is held equal to.

* neighborhood attention: one query at a time, its 7x7 window of the key map (start
  clamped to [0, L - 7]) and its bias cells ``rpb[key - query + 6]`` listed;
* deformable attention: the offset network, the reference points divided by
  ``Hk - 1``, bilinear sampling (align_corners=True, zeros outside) written out;
* the backbone: stem, LPU, pre-norm attention and conv-MLP residuals, downsampling.
"""
import torch
import torch.nn.functional as F


def neighborhood(q, k, v, rpb, ks=7):
    """q, k, v (B, heads, H, W, d), H, W >= ks; rpb (heads, 2ks-1, 2ks-1).

    The loop over the queries lists each one's window (flat key indices) and bias
    cells; one gather then does the arithmetic (slicing per query would make the
    backward pass allocate a key-map-sized gradient per query)."""
    b, h, height, width, d = q.shape
    keys, cells = [], []
    for i in range(height):
        si = min(max(i - ks // 2, 0), height - ks)
        for j in range(width):
            sj = min(max(j - ks // 2, 0), width - ks)
            keys.append(
                [y * width + x for y in range(si, si + ks) for x in range(sj, sj + ks)])
            cells.append([(y - i + ks - 1) * (2 * ks - 1) + (x - j + ks - 1)
                          for y in range(si, si + ks) for x in range(sj, sj + ks)])
    keys, cells = torch.tensor(keys), torch.tensor(cells)  # (H*W, ks*ks)
    kf, vf = k.flatten(2, 3), v.flatten(2, 3)  # (B, h, N, d)
    window_k, window_v = kf[:, :, keys], vf[:, :, keys]  # (B, h, N, ks*ks, d)
    bias = rpb.flatten(1)[:, cells]  # (h, N, ks*ks)
    logits = (q.flatten(2, 3)[:, :, :, None] * window_k).sum(-1) * d**-0.5 + bias
    out = (logits.softmax(-1)[..., None] * window_v).sum(-2)
    return out.unflatten(2, (height, width))


def neighborhood_attention(m, x):
    """mmagent.NeighborhoodAttention ``m`` on an NCHW map ``x``, written out."""
    b, c, height, width = x.shape
    t = x.permute(0, 2, 3, 1)
    ks = m.kernel_size
    ph, pw = max(height, ks), max(width, ks)
    t = F.pad(t, (0, 0, 0, pw - width, 0, ph - height))  # pad before qkv
    qkv = t @ m.qkv.weight.T + m.qkv.bias
    q, k, v = qkv.reshape(b, ph, pw, 3, m.num_heads, -1).permute(3, 0, 4, 1, 2, 5)
    o = neighborhood(q, k, v, m.rpb, ks).permute(0, 2, 3, 1, 4).reshape(b, ph, pw, c)
    o = o[:, :height, :width] @ m.proj.weight.T + m.proj.bias
    return o.permute(0, 3, 1, 2)


def bilinear(img, y, x):
    """Sample img (C, H, W) at normalised y, x (any shape, [-1, 1] = first / last
    pixel centre), zero outside: (C, *y.shape)."""
    _, height, width = img.shape
    py, px = (y + 1) / 2 * (height - 1), (x + 1) / 2 * (width - 1)
    y0, x0 = torch.floor(py), torch.floor(px)
    out = 0
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = y0 + dy, x0 + dx
            wgt = (1 - (py - yy).abs()) * (1 - (px - xx).abs())
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            val = img[:, yy.clamp(0, height - 1).long(), xx.clamp(0, width - 1).long()]
            out = out + val * (wgt * inside)
    return out


def conv1x1(conv, x):
    return torch.einsum('oc,bchw->bohw', conv.weight[:, :, 0, 0], x) + \
        conv.bias[None, :, None, None]


def deformable_attention(m, x):
    """mmagent.DeformableAttention ``m`` on an NCHW map ``x``, written out."""
    b, c, height, width = x.shape
    g, heads = m.groups, m.num_heads
    cg, hg, d = c // g, heads // g, c // heads
    q = conv1x1(m.proj_q, x)
    out = torch.zeros_like(q)
    qy = (torch.arange(height, dtype=x.dtype) / (height - 1) * 2 - 1)
    qx = (torch.arange(width, dtype=x.dtype) / (width - 1) * 2 - 1)
    qy = qy[:, None].expand(height, width).reshape(-1, 1)
    qx = qx[None, :].expand(height, width).reshape(-1, 1)
    for n in range(b):
        points, sampled = [], []
        for gi in range(g):  # each group moves its points and samples its channels
            ch = slice(gi * cg, (gi + 1) * cg)
            off = m.conv_offset(q[n:n + 1, ch])[0]  # (2, Hk, Wk): y, x
            hk, wk = off.shape[1:]
            ry = ((torch.arange(hk, dtype=x.dtype) + 0.5) / (hk - 1) * 2 - 1)[:, None]
            rx = ((torch.arange(wk, dtype=x.dtype) + 0.5) / (wk - 1) * 2 - 1)[None, :]
            py = (off[0] + ry).clamp(-1, 1).flatten()
            px = (off[1] + rx).clamp(-1, 1).flatten()
            points.append((py, px))
            sampled.append(bilinear(x[n, ch], py, px))
        sampled = torch.cat(sampled)  # (C, Hk * Wk); the projections mix the groups
        ks = m.proj_k.weight[:, :, 0, 0] @ sampled + m.proj_k.bias[:, None]
        vs = m.proj_v.weight[:, :, 0, 0] @ sampled + m.proj_v.bias[:, None]
        for hi in range(heads):
            py, px = points[hi // hg]
            hc = slice(hi * d, (hi + 1) * d)
            logits = q[n, hc].reshape(d, -1).T @ ks[hc] * d**-0.5
            logits = logits + bilinear(m.rpe_table[hi:hi + 1], (qy - py) / 2,
                                       (qx - px) / 2)[0]
            out[n, hc] = (vs[hc] @ logits.softmax(-1).T).reshape(d, height, width)
    return conv1x1(m.proj_out, out)


def layer_norm(ln, x):
    return F.layer_norm(
        x.permute(0, 2, 3, 1), ln.norm.normalized_shape, ln.norm.weight, ln.norm.bias,
        ln.norm.eps).permute(0, 3, 1, 2)


def attention(m, x):
    from mmagent.models.layers import DeformableAttention
    if isinstance(m, DeformableAttention):
        return deformable_attention(m, x)
    return neighborhood_attention(m, x)


def dat(model, x):
    """The maps of ``model.out_indices`` of an mmagent DAT, written out (eval mode)."""
    p = model.patch_proj
    x = layer_norm(p[1], p[0](x))
    x = layer_norm(p[4], p[3](F.gelu(x)))
    outs = []
    for i, s in enumerate(model.stages):
        for d, attn in enumerate(s.attns):
            x = x + s.local_perception_units[d](x)
            x = x + attention(attn, layer_norm(s.layer_norms[2 * d], x))
            y = layer_norm(s.layer_norms[2 * d + 1], x)
            y = s.mlps[d].linear1[0](y)
            y = s.mlps[d].linear2[0](F.gelu(y + s.mlps[d].dwc(y)))
            x = x + y
        if i in model.out_indices:
            outs.append(layer_norm(model.norms[i], x))
        if i < 3:
            x = layer_norm(model.down_projs[i][1], model.down_projs[i][0](x))
    return outs
