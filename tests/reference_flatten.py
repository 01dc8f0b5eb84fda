"""A literal rendering of focused linear attention (FLatten, ICCV 2023) at any map size,
for the tests: the paper's equations written plainly, the positional encoding resized
to the key map bilinearly over its grid (mmagent's documented choice), the shared
depthwise conv of V per head. It reads the parameters of mmagent's modules and never
changes them."""
import types

import torch
import torch.nn.functional as F


def _pos(m, hw):
    r0, r1 = m.pretrain_hw
    grid = m.positional_encoding.reshape(1, r0, r1, -1).permute(0, 3, 1, 2)
    if (r0, r1) != tuple(hw):
        grid = F.interpolate(grid, size=hw, mode='bilinear', align_corners=False)
    return grid.flatten(2).transpose(1, 2)


def _core(m, q, k, v, hw):
    b, n, c = q.shape
    h = m.num_heads
    k = k + _pos(m, hw)
    s = F.softplus(m.scale)

    def phi(t):
        t = (F.relu(t) + 1e-6) / s
        tp = t**m.focusing_factor
        return tp / tp.norm(dim=-1, keepdim=True) * t.norm(dim=-1, keepdim=True)

    out = []
    for i in range(h):  # one head at a time, as the equations read
        c0, c1 = i * c // h, (i + 1) * c // h
        qi, ki, vi = phi(q)[..., c0:c1], phi(k)[..., c0:c1], v[..., c0:c1]
        num = qi @ (ki.transpose(1, 2) @ vi) / n
        den = qi @ ki.mean(1, keepdim=True).transpose(1, 2) + 1e-6
        conv = m.dwc(vi.transpose(1, 2).reshape(b, c // h, *hw))
        out.append(num / den + conv.flatten(2).transpose(1, 2))
    return torch.cat(out, -1)


def reference_focused(m, x, hw_shape):
    """FocusedLinearAttention (``sr_ratio`` 1, as published)."""
    assert m.sr_ratio == 1
    if m.qkv_layout == 'qkv':
        q, k, v = m.qkv(x).chunk(3, -1)
    else:
        q = m.q(x)
        k, v = m.kv(x).chunk(2, -1)
    return m.proj(_core(m, q, k, v, hw_shape))


def reference_cswin_focused(m, q, k, v, hw_shape):
    """FLatten-CSwin's whole-map branch: the same plus CSwin's LePE."""
    lepe = m.get_v(v.transpose(1, 2).reshape(v.shape[0], -1, *hw_shape))
    return _core(m, q, k, v, hw_shape) + lepe.flatten(2).transpose(1, 2)


def use_flatten_reference(model):
    """Route every focused linear attention of ``model`` through the renderings above
    (and CSwin stripes through tests/reference_cswin), in place; returns ``model``."""
    from mmagent.models.backbones.flatten import CSWinFocusedAttention
    from mmagent.models.layers import FocusedLinearAttention
    from tests.reference_cswin import use_cswin_reference
    use_cswin_reference(model)
    for m in model.modules():
        if isinstance(m, FocusedLinearAttention):
            m.forward = types.MethodType(reference_focused, m)
        elif isinstance(m, CSWinFocusedAttention):
            m.forward = types.MethodType(reference_cswin_focused, m)
    return model
