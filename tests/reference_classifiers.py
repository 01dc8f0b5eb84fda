"""Short literal renderings of the published ImageNet classifiers (Agent-PVT,
Agent-Swin) as plain functions of a published-layout state dict.

Written from the paper and from what the authors' classifiers were observed to compute,
independently of mmagent's modules: at the pretraining resolution

* each agent grid is sqrt(agent count) on a side (3x3, 4x4, 7x7, 7x7), so the agent
  biases are used at their stored sizes: ``an_bias`` / ``na_bias`` are interpolated
  (bilinear) from 7x7 to the map, ``ah + aw`` / ``ha + wa`` are simply broadcast;
* a Swin window block whose map fits in one window uses the map as its window and does
  not shift (stage 4 at 224 px); other window blocks shift by half a window on odd
  blocks, with the -100 region mask;
* Agent-PVT mean-pools the last stage's tokens into the head; Agent-Swin applies its
  final LayerNorm (``norm``) first.

The tests hold mmagent's mmpretrain classifiers (built from configs/classification)
equal to these on the same weights.
"""
import math

import torch
import torch.nn.functional as F


def ln(x, sd, p, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1], ), sd[p + '.weight'], sd[p + '.bias'], eps)


def linear(x, sd, p):
    return F.linear(x, sd[p + '.weight'], sd.get(p + '.bias'))


def mlp(x, sd, p):
    return linear(F.gelu(linear(x, sd, p + 'fc1')), sd, p + 'fc2')


def agent_attention(x, sd, p, heads, hw, agent_num, layout):
    """One agent-attention layer of a classifier at its pretraining map size."""
    b, n, c = x.shape
    h, w = hw
    d = c // heads
    s = d ** -0.5
    if layout == 'qkv':
        q, k, v = linear(x, sd, p + 'qkv').chunk(3, dim=-1)
    else:
        q = linear(x, sd, p + 'q')
        k, v = linear(x, sd, p + 'kv').chunk(2, dim=-1)
    pool = math.isqrt(agent_num)
    agents = F.adaptive_avg_pool2d(q.transpose(1, 2).reshape(b, c, h, w), pool)
    agents = agents.flatten(2).transpose(1, 2)

    def split(t):
        return t.reshape(b, -1, heads, d).transpose(1, 2)

    qh, kh, vh, ah = split(q), split(k), split(v), split(agents)
    agent_bias = F.interpolate(sd[p + 'an_bias'], size=hw, mode='bilinear').reshape(
        heads, agent_num, n) + (sd[p + 'ah_bias'] + sd[p + 'aw_bias']).reshape(
            heads, agent_num, n)
    token_bias = F.interpolate(sd[p + 'na_bias'], size=hw, mode='bilinear').reshape(
        heads, agent_num, n).transpose(1, 2) + (sd[p + 'ha_bias'] + sd[p + 'wa_bias']
                                                ).reshape(heads, n, agent_num)
    agent_v = torch.softmax((ah * s) @ kh.transpose(-2, -1) + agent_bias, -1) @ vh
    out = torch.softmax((qh * s) @ ah.transpose(-2, -1) + token_bias, -1) @ agent_v
    out = out.transpose(1, 2).reshape(b, n, c)
    v_map = v.transpose(1, 2).reshape(b, c, h, w)
    out = out + F.conv2d(v_map, sd[p + 'dwc.weight'], sd[p + 'dwc.bias'], padding=1,
                         groups=c).flatten(2).transpose(1, 2)
    return linear(out, sd, p + 'proj')


def _windows(x, ws):  # (b, h, w, c) -> (b * nW, ws * ws, c)
    b, h, w, c = x.shape
    return x.reshape(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(
        -1, ws * ws, c)


def window_attention(x, sd, p, heads, hw, window, shift):
    """Swin (shifted) window attention of a classifier; the map is a multiple of the
    window or fits in one."""
    b, n, c = x.shape
    h, w = hw
    if min(h, w) <= window:
        window, shift = min(h, w), 0
    ws, d = window, c // heads
    shift = ws // 2 if shift else 0
    x = x.reshape(b, h, w, c)
    if shift:
        x = torch.roll(x, (-shift, -shift), (1, 2))
    win = _windows(x, ws)
    q, k, v = linear(win, sd, p + 'qkv').reshape(-1, ws * ws, 3, heads, d).permute(
        2, 0, 3, 1, 4)
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    index = (ys[:, None] - ys[None] + ws - 1) * (2 * ws - 1) + (xs[:, None] - xs[None]
                                                                 + ws - 1)
    bias = sd[p + 'relative_position_bias_table'][index].permute(2, 0, 1)  # (h, n, n)
    logits = (q * d ** -0.5) @ k.transpose(-2, -1) + bias
    if shift:
        region = torch.zeros(1, h, w, 1)
        cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
        for i, rows in enumerate(cuts):
            for j, cols in enumerate(cuts):
                region[:, rows, cols] = 3 * i + j
        rw = _windows(region, ws).squeeze(-1)  # (nW, ws*ws)
        mask = (rw[:, None, :] != rw[:, :, None]).float() * -100.0
        nw = mask.shape[0]
        logits = (logits.reshape(b, nw, heads, ws * ws, ws * ws)
                  + mask[None, :, None]).reshape(-1, heads, ws * ws, ws * ws)
    out = (torch.softmax(logits, -1) @ v).transpose(1, 2).reshape(-1, ws * ws, c)
    out = linear(out, sd, p + 'proj')
    out = out.reshape(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(
        b, h, w, c)
    if shift:
        out = torch.roll(out, (shift, shift), (1, 2))
    return out.reshape(b, n, c)


def agent_pvt_logits(sd, x, depths, heads=(1, 2, 5, 8), agent_num=(9, 16, 49, 49)):
    """The Agent-PVT ImageNet classifier ('AAAA') on images ``x``."""
    b = x.shape[0]
    for i in range(4):
        p = f'patch_embed{i + 1}.'
        x = F.conv2d(x, sd[p + 'proj.weight'], sd[p + 'proj.bias'],
                     stride=4 if i == 0 else 2)
        hw = tuple(x.shape[2:])
        t = ln(x.flatten(2).transpose(1, 2), sd, p + 'norm') + sd[f'pos_embed{i + 1}']
        for j in range(depths[i]):
            q = f'block{i + 1}.{j}.'
            t = t + agent_attention(ln(t, sd, q + 'norm1', 1e-6), sd, q + 'attn.',
                                    heads[i], hw, agent_num[i], 'q_kv')
            t = t + mlp(ln(t, sd, q + 'norm2', 1e-6), sd, q + 'mlp.')
        x = t.transpose(1, 2).reshape(b, -1, *hw)
    return linear(t.mean(1), sd, 'head')


def agent_swin_logits(sd, x, depths, heads, attn_type, window=7,
                      agent_num=(9, 16, 49, 49)):
    """The Agent-Swin ImageNet classifier on images ``x``; ``attn_type`` as published
    ('AAAB', 'AABB', 'AAMB2')."""
    letters = attn_type.rstrip('0123456789')
    mixed = int(attn_type[len(letters):] or 0)
    x = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=4)
    b, _, h, w = x.shape
    t = ln(x.flatten(2).transpose(1, 2), sd, 'patch_embed.norm')
    for i in range(4):
        for j in range(depths[i]):
            p = f'layers.{i}.blocks.{j}.'
            agent = letters[i] == 'A' or (letters[i] == 'M' and j < mixed)
            y = ln(t, sd, p + 'norm1')
            if agent:
                y = agent_attention(y, sd, p + 'attn.', heads[i], (h, w), agent_num[i],
                                    'qkv')
            else:
                y = window_attention(y, sd, p + 'attn.', heads[i], (h, w), window,
                                     shift=j % 2 == 1)
            t = t + y
            t = t + mlp(ln(t, sd, p + 'norm2'), sd, p + 'mlp.')
        if i < 3:
            g = t.reshape(b, h, w, -1)
            g = torch.cat([g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2],
                           g[:, 1::2, 1::2]], -1)
            h, w = h // 2, w // 2
            t = F.linear(ln(g.reshape(b, h * w, -1), sd, f'layers.{i}.downsample.norm'),
                         sd[f'layers.{i}.downsample.reduction.weight'])
    return linear(ln(t, sd, 'norm').mean(1), sd, 'head')
