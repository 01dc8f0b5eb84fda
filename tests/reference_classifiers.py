"""Short literal renderings of the published ImageNet classifiers (Agent-PVT,
Agent-Swin, Agent-CSwin, Agent-DeiT, and FLatten-PVT/-PVTv2/-Swin/-CSwin, which are the
same hosts with focused linear attention) as plain functions of a published-layout
state dict.

Written from the paper and from what the authors' classifiers were observed to compute,
independently of mmagent's modules: at the pretraining resolution

* each agent grid is sqrt(agent count) on a side (3x3, 4x4, 7x7, 7x7), so the agent
  biases are used at their stored sizes: ``an_bias`` / ``na_bias`` are interpolated
  (bilinear) from 7x7 to the map, ``ah + aw`` / ``ha + wa`` are simply broadcast;
* a Swin window block whose map fits in one window uses the map as its window and does
  not shift (stage 4 at 224 px); other window blocks shift by half a window on odd
  blocks, with the -100 region mask;
* Agent-PVT mean-pools the last stage's tokens into the head; Agent-Swin and
  Agent-CSwin apply their final LayerNorm (``norm``) first;
* Agent-CSwin's agent stages attend over the whole map, its CSwin stages split heads
  and channels in two halves on vertical / horizontal stripes (one whole-map branch in
  the last stage), each with LePE, a depthwise 3x3 conv of V inside the stripe;
* Agent-DeiT classifies its class token after the final norm; its agent blocks pool
  agents from the patch queries only.

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


def agent_core(q, k, v, sd, p, heads, hw, agent_num, conv='dwc'):
    """Agent attention on projected q, k, v (b, L, c) at the pretraining map size; a
    leading class token when L = 1 + H * W (Agent-DeiT: agents pooled from the patches
    only, ``ac_bias`` / ``ca_bias`` for the class token, no conv on it)."""
    b, n, c = q.shape
    h, w = hw
    cls = n - h * w
    d = c // heads
    s = d**-0.5
    pool = math.isqrt(agent_num)
    agents = F.adaptive_avg_pool2d(q[:, cls:].transpose(1, 2).reshape(b, c, h, w), pool)
    agents = agents.flatten(2).transpose(1, 2)

    def split(t):
        return t.reshape(b, -1, heads, d).transpose(1, 2)

    qh, kh, vh, ah = split(q), split(k), split(v), split(agents)
    agent_bias = F.interpolate(sd[p + 'an_bias'], size=hw, mode='bilinear').reshape(
        heads, agent_num, h * w) + (sd[p + 'ah_bias'] + sd[p + 'aw_bias']).reshape(
            heads, agent_num, h * w)
    token_bias = F.interpolate(sd[p + 'na_bias'], size=hw, mode='bilinear').reshape(
        heads, agent_num, h * w).transpose(1, 2) + (
            sd[p + 'ha_bias'] + sd[p + 'wa_bias']).reshape(heads, h * w, agent_num)
    if cls:
        agent_bias = torch.cat([sd[p + 'ac_bias'][0], agent_bias], -1)
        token_bias = torch.cat([sd[p + 'ca_bias'][0], token_bias], -2)
    agent_v = torch.softmax((ah * s) @ kh.transpose(-2, -1) + agent_bias, -1) @ vh
    out = torch.softmax((qh * s) @ ah.transpose(-2, -1) + token_bias, -1) @ agent_v
    out = out.transpose(1, 2).reshape(b, n, c)
    v_map = v[:, cls:].transpose(1, 2).reshape(b, c, h, w)
    lepe = F.conv2d(v_map, sd[p + conv + '.weight'], sd[p + conv + '.bias'], padding=1,
                    groups=c).flatten(2).transpose(1, 2)
    return torch.cat([out[:, :cls], out[:, cls:] + lepe], 1)


def agent_attention(x, sd, p, heads, hw, agent_num, layout):
    """One agent-attention layer of a classifier at its pretraining map size."""
    if layout == 'qkv':
        q, k, v = linear(x, sd, p + 'qkv').chunk(3, dim=-1)
    else:
        q = linear(x, sd, p + 'q')
        k, v = linear(x, sd, p + 'kv').chunk(2, dim=-1)
    return linear(agent_core(q, k, v, sd, p, heads, hw, agent_num), sd, p + 'proj')


def _windows(x, ws):  # (b, h, w, c) -> (b * nW, ws * ws, c)
    b, h, w, c = x.shape
    return x.reshape(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4,
                                                             5).reshape(-1, ws * ws, c)


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
    q, k, v = linear(win, sd, p + 'qkv').reshape(-1, ws * ws, 3, heads,
                                                 d).permute(2, 0, 3, 1, 4)
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    index = (ys[:, None] - ys[None] + ws - 1) * (2 * ws - 1) + (
        xs[:, None] - xs[None] + ws - 1)
    bias = sd[p + 'relative_position_bias_table'][index].permute(2, 0, 1)  # (h, n, n)
    logits = (q * d**-0.5) @ k.transpose(-2, -1) + bias
    if shift:
        region = torch.zeros(1, h, w, 1)
        cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
        for i, rows in enumerate(cuts):
            for j, cols in enumerate(cuts):
                region[:, rows, cols] = 3 * i + j
        rw = _windows(region, ws).squeeze(-1)  # (nW, ws*ws)
        mask = (rw[:, None, :] != rw[:, :, None]).float() * -100.0
        nw = mask.shape[0]
        logits = (logits.reshape(b, nw, heads, ws * ws, ws * ws) +
                  mask[None, :, None]).reshape(-1, heads, ws * ws, ws * ws)
    out = (torch.softmax(logits, -1) @ v).transpose(1, 2).reshape(-1, ws * ws, c)
    out = linear(out, sd, p + 'proj')
    out = out.reshape(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4,
                                                              5).reshape(b, h, w, c)
    if shift:
        out = torch.roll(out, (shift, shift), (1, 2))
    return out.reshape(b, n, c)


def agent_pvt_logits(sd, x, depths, heads=(1, 2, 5, 8), agent_num=(9, 16, 49, 49),
                     efficient=None):
    """The Agent-PVT ImageNet classifier ('AAAA') on images ``x``; with ``efficient``
    (a function of x, sd, prefix, heads, hw) in place of agent attention, FLatten-PVT."""
    efficient = efficient or (
        lambda y, sd, p, h, hw, i: agent_attention(y, sd, p, h, hw, agent_num[i], 'q_kv'))
    b = x.shape[0]
    for i in range(4):
        p = f'patch_embed{i + 1}.'
        x = F.conv2d(x, sd[p + 'proj.weight'], sd[p + 'proj.bias'],
                     stride=4 if i == 0 else 2)
        hw = tuple(x.shape[2:])
        t = ln(x.flatten(2).transpose(1, 2), sd, p + 'norm') + sd[f'pos_embed{i + 1}']
        for j in range(depths[i]):
            q = f'block{i + 1}.{j}.'
            t = t + efficient(
                ln(t, sd, q + 'norm1', 1e-6), sd, q + 'attn.', heads[i], hw, i)
            t = t + mlp(ln(t, sd, q + 'norm2', 1e-6), sd, q + 'mlp.')
        x = t.transpose(1, 2).reshape(b, -1, *hw)
    return linear(t.mean(1), sd, 'head')


def agent_swin_logits(sd, x, depths, heads, attn_type, window=7,
                      agent_num=(9, 16, 49, 49), efficient=None):
    """The Agent-Swin ImageNet classifier on images ``x``; ``attn_type`` as published
    ('AAAB', 'AABB', 'AAMB2')."""
    efficient = efficient or (
        lambda y, sd, p, h, hw, i: agent_attention(y, sd, p, h, hw, agent_num[i], 'qkv'))
    letters = attn_type.rstrip('0123456789').replace('L', 'A')
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
                y = efficient(y, sd, p + 'attn.', heads[i], (h, w), i)
            else:
                y = window_attention(y, sd, p + 'attn.', heads[i], (h, w), window,
                                     shift=j % 2 == 1)
            t = t + y
            t = t + mlp(ln(t, sd, p + 'norm2'), sd, p + 'mlp.')
        if i < 3:
            g = t.reshape(b, h, w, -1)
            g = torch.cat(
                [g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]],
                -1)
            h, w = h // 2, w // 2
            t = F.linear(
                ln(g.reshape(b, h * w, -1), sd, f'layers.{i}.downsample.norm'),
                sd[f'layers.{i}.downsample.reduction.weight'])
    return linear(ln(t, sd, 'norm').mean(1), sd, 'head')


def _stripes(t, hw, win):  # (b, H*W, c) -> (b * nW, wh * ww, c)
    (h, w), (wh, ww) = hw, win
    b, _, c = t.shape
    return t.reshape(b, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 2, 4,
                                                             5).reshape(-1, wh * ww, c)


def stripe_attention(q, k, v, sd, p, heads, hw, win):
    """CSwin attention inside ``win = (wh, ww)`` windows that tile the map, plus LePE."""
    (h, w), (wh, ww) = hw, win
    b, n, c = q.shape
    d = c // heads
    qw, kw, vw = (_stripes(t, hw, win) for t in (q, k, v))

    def split(t):
        return t.reshape(t.shape[0], -1, heads, d).transpose(1, 2)

    attn = torch.softmax((split(qw) * d**-0.5) @ split(kw).transpose(-2, -1), -1)
    out = (attn @ split(vw)).transpose(1, 2).reshape(-1, wh * ww, c)
    out = out + F.conv2d(
        vw.transpose(1, 2).reshape(-1, c, wh, ww), sd[p + 'get_v.weight'],
        sd[p + 'get_v.bias'], padding=1, groups=c).flatten(2).transpose(1, 2)
    out = out.reshape(b, h // wh, w // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
    return out.reshape(b, n, c)


def agent_cswin_logits(sd, x, depths, heads, split=(1, 2, 7, 7), attn_type='AABB',
                       agent_num=(9, 16, 49, 49), efficient=None):
    """The Agent-CSwin ImageNet classifier on images ``x``; with ``efficient`` (a
    function of q, k, v, sd, prefix, heads, hw) in place of agent attention,
    FLatten-CSwin ('LLSS')."""
    efficient = efficient or (lambda q, k, v, sd, p, h, hw, i: agent_core(
        q, k, v, sd, p, h, hw, agent_num[i], conv='get_v'))
    attn_type = attn_type.replace('L', 'A')
    x = F.conv2d(x, sd['stage1_conv_embed.0.weight'], sd['stage1_conv_embed.0.bias'],
                 stride=4, padding=2)
    b, _, h, w = x.shape
    t = ln(x.flatten(2).transpose(1, 2), sd, 'stage1_conv_embed.2')
    for i in range(4):
        if i:
            g = F.conv2d(
                t.transpose(1, 2).reshape(b, -1, h, w), sd[f'merge{i}.conv.weight'],
                sd[f'merge{i}.conv.bias'], stride=2, padding=1)
            h, w = g.shape[2:]
            t = ln(g.flatten(2).transpose(1, 2), sd, f'merge{i}.norm')
        for j in range(depths[i]):
            p = f'stage{i + 1}.{j}.'
            q, k, v = linear(ln(t, sd, p + 'norm1'), sd, p + 'qkv').chunk(3, -1)
            if attn_type[i] == 'A':
                y = efficient(q, k, v, sd, p + 'attns.0.', heads[i], (h, w), i)
            elif i == 3 or split[i] >= h:
                y = stripe_attention(q, k, v, sd, p + 'attns.0.', heads[i], (h, w),
                                     (h, w))
            else:
                c2 = q.shape[-1] // 2
                y = torch.cat([
                    stripe_attention(q[..., :c2], k[..., :c2], v[..., :c2], sd,
                                     p + 'attns.0.', heads[i] // 2, (h, w),
                                     (h, split[i])),
                    stripe_attention(q[..., c2:], k[..., c2:], v[..., c2:], sd,
                                     p + 'attns.1.', heads[i] // 2, (h, w), (split[i], w))
                ], -1)
            t = t + linear(y, sd, p + 'proj')
            t = t + mlp(ln(t, sd, p + 'norm2'), sd, p + 'mlp.')
    return linear(ln(t, sd, 'norm').mean(1), sd, 'head')


def agent_deit_logits(sd, x, depth, heads, agent_layer, agent_num):
    """The Agent-DeiT ImageNet classifier on images ``x`` (LayerNorm eps 1e-6)."""
    x = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=16)
    b, c, h, w = x.shape
    t = torch.cat([sd['cls_token'].expand(b, -1, -1), x.flatten(2).transpose(1, 2)], 1)
    t = t + sd['pos_embed']
    for i in range(depth):
        p = f'blocks.{i}.'
        y = ln(t, sd, p + 'norm1', 1e-6)
        if i < agent_layer:
            y = agent_attention(y, sd, p + 'attn.', heads, (h, w), agent_num, 'qkv')
        else:
            q, k, v = (
                u.reshape(b, -1, heads, c // heads).transpose(1, 2)
                for u in linear(y, sd, p + 'attn.qkv').chunk(3, -1))
            a = torch.softmax((q @ k.transpose(-2, -1)) * (c // heads)**-0.5, -1)
            y = linear((a @ v).transpose(1, 2).reshape(b, -1, c), sd, p + 'attn.proj')
        t = t + y
        t = t + mlp(ln(t, sd, p + 'norm2', 1e-6), sd, p + 'mlp.')
    return linear(ln(t, sd, 'norm', 1e-6)[:, 0], sd, 'head')


def focused_core(q, k, v, sd, p, heads, focusing=3):
    """FLatten's focused linear attention on projected q, k, v (b, n, c), per the paper:
    phi(x) = ||x'|| x'^p / ||x'^p||, x' = (ReLU(x) + 1e-6) / softplus(s); keys carry the
    positional encoding; out = phi(Q) (phi(K)^T V / n) / (phi(Q) mean(phi(K)) + 1e-6)."""
    b, n, c = q.shape
    s = F.softplus(sd[p + 'scale'])
    k = k + sd[p + 'positional_encoding']

    def phi(t):
        t = (F.relu(t) + 1e-6) / s
        tp = t**focusing
        return tp / tp.norm(dim=-1, keepdim=True) * t.norm(dim=-1, keepdim=True)

    def split(t):
        return t.reshape(b, n, heads, c // heads).transpose(1, 2)

    qh, kh, vh = split(phi(q)), split(phi(k)), split(v)
    den = qh @ kh.mean(2, keepdim=True).transpose(-2, -1) + 1e-6
    out = (qh @ (kh.transpose(-2, -1) @ vh / n)) / den
    return out.transpose(1, 2).reshape(b, n, c)


def focused_dwc(v, sd, p, heads, hw):
    """FLatten's depthwise conv of V: one head_dim-channel kernel shared by the heads."""
    b, n, c = v.shape
    d = c // heads
    maps = v.reshape(b, n, heads, d).permute(0, 2, 3, 1).reshape(b * heads, d, *hw)
    out = F.conv2d(maps, sd[p + 'dwc.weight'], sd[p + 'dwc.bias'],
                   padding=sd[p + 'dwc.weight'].shape[-1] // 2, groups=d)
    return out.reshape(b, c, n).transpose(1, 2)


def focused_attention(x, sd, p, heads, hw, layout):
    """A FLatten-PVT / FLatten-Swin linear layer (no key reduction, as published)."""
    if layout == 'qkv':
        q, k, v = linear(x, sd, p + 'qkv').chunk(3, dim=-1)
    else:
        q = linear(x, sd, p + 'q')
        k, v = linear(x, sd, p + 'kv').chunk(2, dim=-1)
    out = focused_core(q, k, v, sd, p, heads) + focused_dwc(v, sd, p, heads, hw)
    return linear(out, sd, p + 'proj')


def flatten_pvt_logits(sd, x, depths):
    return agent_pvt_logits(
        sd, x, depths,
        efficient=lambda y, sd, p, h, hw, i: focused_attention(y, sd, p, h, hw, 'q_kv'))


def flatten_swin_logits(sd, x, depths, heads, window=7):
    return agent_swin_logits(
        sd, x, depths, heads, 'LLSS', window=window,
        efficient=lambda y, sd, p, h, hw, i: focused_attention(y, sd, p, h, hw, 'qkv'))


def flatten_cswin_logits(sd, x, depths, heads):

    def branch(q, k, v, sd, p, h, hw, i):
        c = q.shape[-1]
        lepe = F.conv2d(
            v.transpose(1, 2).reshape(-1, c, *hw), sd[p + 'get_v.weight'],
            sd[p + 'get_v.bias'], padding=1, groups=c)
        return (focused_core(q, k, v, sd, p, h) + focused_dwc(v, sd, p, h, hw) +
                lepe.flatten(2).transpose(1, 2))

    return agent_cswin_logits(sd, x, depths, heads, attn_type='LLSS', efficient=branch)


def flatten_pvt_v2_logits(sd, x, depths, heads=(1, 2, 5, 8)):
    """The FLatten-PVTv2 classifier ('LLLL'): overlapping patch embeddings, an MLP with
    a 3x3 depthwise conv after fc1, a LayerNorm after every stage, mean pooling."""
    b = x.shape[0]
    for i in range(4):
        p = f'patch_embed{i + 1}.'
        k = 7 if i == 0 else 3
        x = F.conv2d(x, sd[p + 'proj.weight'], sd[p + 'proj.bias'],
                     stride=4 if i == 0 else 2, padding=k // 2)
        hw = tuple(x.shape[2:])
        t = ln(x.flatten(2).transpose(1, 2), sd, p + 'norm')
        for j in range(depths[i]):
            q = f'block{i + 1}.{j}.'
            t = t + focused_attention(
                ln(t, sd, q + 'norm1', 1e-6), sd, q + 'attn.', heads[i], hw, 'q_kv')
            y = linear(ln(t, sd, q + 'norm2', 1e-6), sd, q + 'mlp.fc1')
            dw = sd[q + 'mlp.dwconv.dwconv.weight']
            y = F.conv2d(
                y.transpose(1, 2).reshape(b, -1, *hw), dw,
                sd[q + 'mlp.dwconv.dwconv.bias'], padding=1, groups=dw.shape[0])
            t = t + linear(F.gelu(y.flatten(2).transpose(1, 2)), sd, q + 'mlp.fc2')
        t = ln(t, sd, f'norm{i + 1}', 1e-6)
        x = t.transpose(1, 2).reshape(b, -1, *hw)
    return linear(t.mean(1), sd, 'head')
