"""The transformer MLP of both backbones: Linear -> exact GELU -> Linear.

In training its hidden activations are the largest tensors of Agent-PVT (MLP ratio 8)
and Agent-Swin. Autograd's plain rendering keeps two of them per block (the first
layer's output for GELU's backward and GELU's output for the second layer's), and
allocates four fresh ones per step. :class:`GeluMlpFunction` keeps one - the first
layer's output - recomputes GELU from it in backward (an elementwise pass) and computes
GELU's backward in place, with its temporaries in reused scratch memory.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .scratch import scratch

__all__ = ['Mlp', 'GeluMlpFunction', 'gelu_mlp']


class GeluMlpFunction(torch.autograd.Function):
    """fc2(gelu(fc1(x))) saving only x and fc1's output.

    Shapes: x (..., C), w1 (H, C), b1 (H) or None, w2 (C', H), b2 (C') or None.
    """

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        x2 = x.reshape(-1, x.shape[-1])
        z = F.linear(x2, w1, b1)  # saved: (M, H)
        h = torch._C._nn.gelu(z, out=scratch(0, z.shape, z))
        y = F.linear(h, w2, b2)
        ctx.save_for_backward(x2, w1, w2, z)
        ctx.has_bias = (b1 is not None, b2 is not None)
        ctx.x_shape = x.shape
        return y.view(*x.shape[:-1], y.shape[-1])

    @staticmethod
    def backward(ctx, grad_y):
        x2, w1, w2, z = ctx.saved_tensors
        need_x, need_w1, need_b1, need_w2, need_b2 = ctx.needs_input_grad
        dy = grad_y.reshape(-1, grad_y.shape[-1])
        grad_x = grad_w1 = grad_b1 = grad_w2 = grad_b2 = None
        if need_w2:
            h = torch._C._nn.gelu(z, out=scratch(0, z.shape, z))  # recomputed
            grad_w2 = dy.t().mm(h)
        if need_b2 and ctx.has_bias[1]:
            grad_b2 = dy.sum(0)
        if need_x or need_w1 or need_b1:
            dz = torch.mm(dy, w2, out=scratch(1, z.shape, z))
            # d/dz gelu, in place: the incoming gradient's buffer becomes fc1's.
            torch.ops.aten.gelu_backward.grad_input(dz, z, grad_input=dz)
            if need_w1:
                grad_w1 = dz.t().mm(x2)
            if need_b1 and ctx.has_bias[0]:
                grad_b1 = dz.sum(0)
            if need_x:
                grad_x = dz.mm(w1).view(ctx.x_shape)
        return grad_x, grad_w1, grad_b1, grad_w2, grad_b2


def _is_compiling():
    compiler = getattr(torch, 'compiler', None)
    return bool(compiler is not None and compiler.is_compiling())


def gelu_mlp(x, fc1, fc2):
    """``fc2(gelu(fc1(x)))`` with the two ``nn.Linear`` layers; the memory-lean
    function when gradients are needed, plain ops otherwise (and under autocast or
    ``torch.compile``, which handle the plain ops themselves)."""
    params = (fc1.weight, fc2.weight)
    if (torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params))
            and not torch.is_autocast_enabled(x.device.type) and not _is_compiling()):
        return GeluMlpFunction.apply(x, fc1.weight, fc1.bias, fc2.weight, fc2.bias)
    return fc2(F.gelu(fc1(x)))


class Mlp(nn.Module):
    """Linear -> exact GELU -> Linear, named ``fc1`` / ``fc2`` as published, with
    dropout after the activation and after ``fc2``."""

    def __init__(self, in_features, hidden_features, drop=0.):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        if self.drop.p > 0 and self.training:
            return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))
        return gelu_mlp(x, self.fc1, self.fc2)
