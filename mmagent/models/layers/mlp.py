"""The transformer MLP of both backbones: [LayerNorm ->] Linear -> exact GELU -> Linear.

In training its hidden activations are the largest tensors of Agent-PVT (MLP ratio 8)
and Agent-Swin. Autograd's plain rendering keeps the pre-norm's output and two hidden
tensors per block (fc1's output for GELU's backward, GELU's output for fc2's) and
allocates several fresh hidden-sized tensors per step, each page-faulted anew on the
CPU. :class:`NormMlpFunction` keeps only the block input and fc1's output; it works
through the tokens in row chunks, recomputing the norm and GELU of a chunk in backward
(elementwise passes) with every temporary chunk-sized and reused. Inference on the CPU
runs the same chunks with no hidden-sized tensor at all.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .agent_attention import _is_compiling
from .scratch import scratch

__all__ = ['Mlp', 'NormMlpFunction', 'norm_mlp_forward']

#: elements of a chunk's hidden temporaries (16 MiB in float32)
CHUNK_ELEMENTS = 1 << 22


def _chunk_rows(hidden):
    """Rows per chunk: about CHUNK_ELEMENTS hidden elements."""
    return max(1, CHUNK_ELEMENTS // hidden)


def _linear_into(out, x, weight, bias):
    if bias is None:
        return torch.mm(x, weight.t(), out=out)
    return torch.addmm(bias, x, weight.t(), out=out)


def norm_mlp_forward(x, ln_weight, ln_bias, ln_eps, w1, b1, w2, b2, keep_hidden=False):
    """``fc2(gelu(fc1(layer_norm(x))))`` in row chunks (norm skipped when ``ln_eps``
    is None). Returns ``(y, x2, z, stats)``: the output (..., C'), ``x`` as rows, and
    with ``keep_hidden`` fc1's output (rows, H) and the norm's (mean, rstd) as
    (2, rows, 1), the tensors backward needs; without it those are None and every
    hidden-sized temporary is chunk-sized scratch (inference)."""
    x2 = x.reshape(-1, x.shape[-1])
    rows, channels = x2.shape
    hidden = w1.shape[0]
    chunk = _chunk_rows(hidden)
    z = x2.new_empty(rows, hidden) if keep_hidden else None
    y = x2.new_empty(rows, w2.shape[0])
    stats = x2.new_empty(2, rows, 1) if keep_hidden and ln_eps is not None else None
    for r in range(0, rows, chunk):
        s = slice(r, r + chunk)
        xn = x2[s]
        if ln_eps is not None:
            xn, mean, rstd = torch.native_layer_norm(xn, (channels, ), ln_weight, ln_bias,
                                                     ln_eps)
            if stats is not None:
                stats[0, s], stats[1, s] = mean, rstd
        m = xn.shape[0]
        zs = z[s] if keep_hidden else scratch(1, (m, hidden), xn)
        zs = _linear_into(zs, xn, w1, b1)
        if keep_hidden:
            h = torch._C._nn.gelu(zs, out=scratch(0, zs.shape, zs))
        else:
            h = torch._C._nn.gelu(zs, out=zs)  # in place: nothing needs fc1's output
        _linear_into(y[s], h, w2, b2)
    return y.view(*x.shape[:-1], y.shape[-1]), x2, z, stats


class NormMlpFunction(torch.autograd.Function):
    """``fc2(gelu(fc1(layer_norm(x))))`` keeping only ``x`` and fc1's output.

    Args (forward): x (..., C); ln_weight, ln_bias (C) or None, ln_eps (the norm is
    skipped when ``ln_eps`` is None); w1 (H, C), b1 (H) or None; w2 (C', H), b2 (C')
    or None. Returns (..., C').
    """

    @staticmethod
    def forward(ctx, x, ln_weight, ln_bias, ln_eps, w1, b1, w2, b2):
        y, x2, z, stats = norm_mlp_forward(x, ln_weight, ln_bias, ln_eps, w1, b1, w2, b2,
                                           keep_hidden=True)
        ctx.save_for_backward(x2, ln_weight, ln_bias, w1, w2, z, stats)
        ctx.ln_eps = ln_eps
        ctx.has_bias = (b1 is not None, b2 is not None)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    @once_differentiable  # in-place and out= kernels: no double backward
    def backward(ctx, grad_y):
        x2, ln_weight, ln_bias, w1, w2, z, stats = ctx.saved_tensors
        need_x, need_lnw, need_lnb, _, need_w1, need_b1, need_w2, need_b2 = \
            ctx.needs_input_grad
        ln_eps = ctx.ln_eps
        rows, channels = x2.shape
        hidden = w1.shape[0]
        chunk = _chunk_rows(hidden)
        dy = grad_y.reshape(-1, grad_y.shape[-1])
        zeros = x2.new_zeros
        grad_x = x2.new_empty(rows, channels) if need_x else None
        grad_w1 = zeros(w1.shape) if need_w1 else None
        grad_w2 = zeros(w2.shape) if need_w2 else None
        grad_b1 = zeros(hidden) if need_b1 and ctx.has_bias[0] else None
        grad_b2 = dy.sum(0) if need_b2 and ctx.has_bias[1] else None
        ln = ln_eps is not None
        grad_lnw = zeros(channels) if ln and need_lnw and ln_weight is not None else None
        grad_lnb = zeros(channels) if ln and need_lnb and ln_bias is not None else None
        need_below = need_x or need_w1 or need_b1 or grad_lnw is not None \
            or grad_lnb is not None
        for r in range(0, rows, chunk):
            s = slice(r, r + chunk)
            zs, dys = z[s], dy[s]
            if grad_w2 is not None:
                h = torch._C._nn.gelu(zs, out=scratch(0, zs.shape, zs))  # recomputed
                grad_w2.addmm_(dys.t(), h)
            if not need_below:
                continue
            dz = torch.mm(dys, w2, out=scratch(1, zs.shape, zs))
            torch.ops.aten.gelu_backward.grad_input(dz, zs, grad_input=dz)  # in place
            if grad_b1 is not None:
                grad_b1.add_(dz.sum(0))
            xs = x2[s]
            if ln:
                mean, rstd = stats[0, s], stats[1, s]
                xn = (xs - mean).mul_(rstd)  # the norm's output, recomputed
                if ln_weight is not None:
                    xn.mul_(ln_weight)
                if ln_bias is not None:
                    xn.add_(ln_bias)
            else:
                xn = xs
            if grad_w1 is not None:
                grad_w1.addmm_(dz.t(), xn)
            if need_x or grad_lnw is not None or grad_lnb is not None:
                dxn = dz.mm(w1)
                if not ln:
                    grad_x[s] = dxn
                    continue
                dx, dlw, dlb = torch.ops.aten.native_layer_norm_backward(
                    dxn, xs, (channels, ), mean, rstd, ln_weight, ln_bias,
                    [need_x, grad_lnw is not None, grad_lnb is not None])
                if need_x:
                    grad_x[s] = dx
                if grad_lnw is not None:
                    grad_lnw.add_(dlw)
                if grad_lnb is not None:
                    grad_lnb.add_(dlb)
        if grad_x is not None:
            grad_x = grad_x.view(ctx.x_shape)
        return grad_x, grad_lnw, grad_lnb, None, grad_w1, grad_b1, grad_w2, grad_b2


class Mlp(nn.Module):
    """Linear -> exact GELU -> Linear, named ``fc1`` / ``fc2`` as published, with
    dropout after the activation and after ``fc2``.

    ``forward(x, norm=None)``: ``norm`` (an ``nn.LayerNorm``) is the block's pre-norm,
    applied to ``x`` first; given here, it joins the chunked computation. When
    gradients are needed the whole sub-layer is :class:`NormMlpFunction`; inference on
    the CPU is :func:`norm_mlp_forward`; with dropout, autocast or ``torch.compile``
    (which handle the plain ops themselves) it is the plain modules.
    """

    def __init__(self, in_features, hidden_features, drop=0.):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x, norm=None):
        path = self._path(x, norm)
        if path != 'plain':
            ln = (norm.weight, norm.bias, norm.eps) if norm is not None else (None, ) * 3
            weights = (self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias)
            if path == 'train':
                return NormMlpFunction.apply(x, *ln, *weights)
            return norm_mlp_forward(x, *ln, *weights)[0]
        if norm is not None:
            x = norm(x)
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

    def _path(self, x, norm):
        """'train' (the function), 'infer' (chunked, no gradient) or 'plain'."""
        if (self.drop.p > 0 and self.training) or torch.is_autocast_enabled(
                x.device.type) or _is_compiling():
            return 'plain'
        if norm is not None and not (isinstance(norm, nn.LayerNorm)
                                     and len(norm.normalized_shape) == 1):
            return 'plain'
        params = [self.fc1.weight, self.fc2.weight]
        if norm is not None and norm.weight is not None:
            params.append(norm.weight)
        if torch.is_grad_enabled() and (x.requires_grad
                                        or any(p.requires_grad for p in params)):
            return 'train'
        # Chunking is for the CPU's allocator; CUDA's caching allocator needs none.
        return 'infer' if x.device.type == 'cpu' else 'plain'

