"""A literal rendering of Agent-CSwin's two attentions at any map size, for the tests.

* CSwin stripes: the map is cut into stripes ``split_size`` wide (vertical, idx 0) or
  high (horizontal, idx 1), the last one narrower when the size does not divide; each
  stripe attends within itself with plain softmax, and LePE (the depthwise conv of V)
  sees only the stripe. No padding anywhere, so it checks mmagent's padding + mask.
* Agent stages: agent attention over the whole map with every bias resized by the
  spec's routes (``tests/reference_agent_attention.reference_biases``), and LePE.

It reads the parameters of mmagent's modules and never changes them.
"""
import types

import torch
import torch.nn.functional as F

from tests.reference_agent_attention import reference_biases


def _heads(t, h):
    b, n, c = t.shape
    return t.reshape(b, n, h, c // h).transpose(1, 2)


def _merge(t):
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def reference_stripes(m, q, k, v, hw_shape):
    b, _, c = q.shape
    H, W = hw_shape
    qm, km, vm = (t.reshape(b, H, W, c) for t in (q, k, v))
    sp = m.split_size
    if m.idx == -1:
        cuts, axis = [(slice(0, H), slice(0, W))], 1
    elif m.idx == 0:
        cuts, axis = [(slice(0, H), slice(j, min(j + sp, W))) for j in range(0, W, sp)], 2
    else:
        cuts, axis = [(slice(i, min(i + sp, H)), slice(0, W)) for i in range(0, H, sp)], 1
    pieces = []
    for rows, cols in cuts:
        qs, ks, vs = (t[:, rows, cols] for t in (qm, km, vm))
        hh, ww = qs.shape[1:3]
        flat = [_heads(t.reshape(b, hh * ww, c), m.num_heads) for t in (qs, ks, vs)]
        attn = torch.softmax((flat[0] * m.scale) @ flat[1].transpose(-2, -1), -1)
        out = _merge(attn @ flat[2]).reshape(b, hh, ww, c)
        pieces.append(out + m.get_v(vs.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
    return torch.cat(pieces, axis).reshape(b, H * W, c)


def reference_agent(m, q, k, v, hw_shape):
    b, n, c = q.shape
    H, W = hw_shape
    agents = F.adaptive_avg_pool2d(
        q.reshape(b, H, W, c).permute(0, 3, 1, 2),
        m.agent_shape).flatten(2).transpose(1, 2)
    qh, kh, vh, ah = (_heads(t, m.num_heads) for t in (q, k, v, agents))
    agent_bias, token_bias = reference_biases(m, H, W)
    agent_v = torch.softmax((ah * m.scale) @ kh.transpose(-2, -1) + agent_bias, -1) @ vh
    out = _merge(
        torch.softmax((qh * m.scale) @ ah.transpose(-2, -1) + token_bias, -1) @ agent_v)
    return out + m.get_v(v.reshape(b, H, W, c).permute(0, 3, 1, 2)).flatten(2).transpose(
        1, 2)


def use_cswin_reference(model):
    """Route every stripe and agent attention of ``model`` through the renderings
    above, in place; returns ``model``."""
    from mmagent.models.backbones.agent_cswin import CSWinAgentAttention
    from mmagent.models.layers.stripe_attention import CSWinStripeAttention
    for m in model.modules():
        if isinstance(m, CSWinStripeAttention):
            m.forward = types.MethodType(reference_stripes, m)
        elif isinstance(m, CSWinAgentAttention):
            m.forward = types.MethodType(reference_agent, m)
    return model
