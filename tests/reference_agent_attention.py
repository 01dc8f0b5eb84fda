"""A slow, literal rendering of the agent-attention equations in
``shared/reference/agent_attention_spec.md``.

It follows the spec step by step (each bias resized on its own route, biases copied per
image, plain matmul + softmax) so that it is easy to check against the text, and renders
the blocks' MLP (Linear -> exact GELU -> Linear) as plain autograd ops. The tests compare
mmagent's :class:`~mmagent.models.AgentAttention` and ``Mlp`` with it, and
``tools/benchmark.py`` uses it as the "straightforward rendering" baseline. It reads the
parameters of mmagent's modules and never changes them.
"""
import math
import types

import torch
import torch.nn.functional as F


def resize(t, size):
    return F.interpolate(t, size=size, mode='bilinear', align_corners=False)


def agent_route(bias_hw, H, W, ph, pw):
    """(h, a, H, W) -> (h, N, n) by the spec's second resize."""
    h, a = bias_hw.shape[:2]
    p = math.isqrt(a)
    t = bias_hw.reshape(h, p, p, H * W)  # view (h, p, p, N)
    t = t.permute(0, 3, 1, 2)  # (h, N, p, p)
    t = resize(t, (ph, pw))  # (h, N, ph, pw)
    return t.reshape(h, H * W, ph * pw)  # (h, N, n)


def reference_biases(m, H, W):
    ph, pw = m.agent_shape
    # P = P1 + P2, (h, n, N)
    p1 = agent_route(resize(m.an_bias, (H, W)), H, W, ph, pw).transpose(1, 2)
    p2 = agent_route(resize((m.ah_bias + m.aw_bias)[0], (H, W)), H, W, ph,
                     pw).transpose(1, 2)
    # Q_B = B1 + B2, (h, N, n)
    b1 = agent_route(resize(m.na_bias, (H, W)), H, W, ph, pw)
    hw = (m.ha_bias + m.wa_bias)[0]  # (h, R0, R1, a)
    b2 = agent_route(resize(hw.permute(0, 3, 1, 2), (H, W)), H, W, ph, pw)
    return p1 + p2, b1 + b2


def reference_forward(m, x, hw_shape):
    """Agent attention of module ``m`` on x (B, N, C) over the map ``hw_shape``."""
    B, N, C = x.shape
    H, W = hw_shape
    h = m.num_heads
    d = C // h
    s = m.scale
    ph, pw = m.agent_shape
    n = ph * pw
    if m.qkv_layout == 'qkv':
        qkv = m.qkv(x)
        q, k, v = qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:]
    else:
        q = m.q(x)
        kv = m.kv(x)
        k, v = kv[..., :C], kv[..., C:]
    # 2. agents: adaptive average pooling of Q viewed as (B, C, H, W)
    A = F.adaptive_avg_pool2d(q.reshape(B, H, W, C).permute(0, 3, 1, 2), (ph, pw))
    A = A.reshape(B, C, n).permute(0, 2, 1)
    heads = lambda t: t.reshape(B, t.shape[1], h, d).permute(0, 2, 1, 3)  # noqa: E731
    qh, kh, vh, Ah = heads(q), heads(k), heads(v), heads(A)
    P, QB = reference_biases(m, H, W)
    P = P.unsqueeze(0).repeat(B, 1, 1, 1)
    QB = QB.unsqueeze(0).repeat(B, 1, 1, 1)
    drop = m.attn_drop if m.training else 0.
    # 3. V_A = softmax(s A K^T + P) V
    attn = torch.softmax((Ah * s) @ kh.transpose(-2, -1) + P, dim=-1)
    VA = F.dropout(attn, drop, m.training) @ vh
    # 4. O = softmax(s Q A^T + Q_B) V_A
    attn = torch.softmax((qh * s) @ Ah.transpose(-2, -1) + QB, dim=-1)
    out = (F.dropout(attn, drop, m.training) @ VA).permute(0, 2, 1, 3).reshape(B, N, C)
    # 5. O += dwc(V)
    vmap = v.reshape(B, H, W, C).permute(0, 3, 1, 2)
    out = out + m.dwc(vmap).permute(0, 2, 3, 1).reshape(B, N, C)
    # 6. proj
    return m.proj_drop(m.proj(out))


def reference_mlp_forward(m, x, hw_shape=None):
    """The block MLP of module ``m`` (an mmagent ``Mlp``) as plain autograd ops."""
    return m.drop(m.fc2(m.drop(F.gelu(m.fc1(x)))))


def use_spec_rendering(model):
    """Route every AgentAttention and Mlp of ``model`` through the renderings above,
    in place; returns ``model``."""
    from mmagent.models import AgentAttention
    from mmagent.models.layers import Mlp
    for m in model.modules():
        if isinstance(m, AgentAttention):
            m.forward = types.MethodType(reference_forward, m)
        elif isinstance(m, Mlp):
            m.forward = types.MethodType(reference_mlp_forward, m)
    return model
