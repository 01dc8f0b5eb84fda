"""CPU kernels for small machines, behind one per-model switch (on by default, used
only where they apply).

mmagent's plain path is PyTorch's own ops on every device:
``scaled_dot_product_attention``
with the agent biases as differentiable masks, and a plain ``Linear -> GELU -> Linear``
MLP. This module holds the hand-written alternatives that pay off only on the CPU, where
PyTorch's allocator hands large tensors straight to the operating system (glibc ``mmap``
above a threshold of at most 32 MB) and every fresh large tensor is page-faulted again:
on a 2-core VM writing GELU into a fresh 64 MB tensor took 51 ms, into a reused one 6 ms.

* :class:`AgentAttentionFunction`: both agent-attention steps with a hand-written
  backward (heads as strided channel slices, the bias as the GEMM accumulator, softmax
  and its backward in place); it keeps only the inputs, the agents' values and the two
  probability maps;
* :class:`ChunkedMlpFunction` / :func:`chunked_mlp_forward`: the MLP in row chunks,
  keeping only its input and fc1's output for backward and recomputing GELU; inference
  makes no hidden-sized tensor at all;
* :func:`mask_into_scratch`: in inference, each agent-attention mask of a call (one
  small product from the cached map-sized biases) written into a reused buffer;
* :func:`scratch`: reused buffers for temporaries that die inside one call.

The switch is per model, chosen where it is built: ``cpu_kernels`` on a backbone
(or :func:`~mmagent.models.layers.runtime.set_cpu_kernels` on a built model; a single
layer takes ``cpu_kernels`` too). On by default, so a model picks its fastest path by
itself from each call's device, dtype and grad mode; ``cpu_kernels=False`` forces the
plain path (debugging). When on, the kernels run only where they measurably helped
(``tools/benchmark.py``, README): CPU tensors, float32/float64, no autocast, no
``torch.compile`` or export, no dropout; the attention function only when gradients are
needed (inference keeps SDPA), the chunked MLP in training and CPU inference. Everything
else, CUDA included, takes the plain path. Each kernel is tested equal to
the reference rendering in ``tests/reference_agent_attention.py``. Private PyTorch ops
are used here and nowhere else in mmagent.
"""
import threading

import torch
from torch.autograd.function import once_differentiable

__all__ = [
    'attention_kernel_applies', 'mlp_kernel_path', 'scratch_masks_apply',
    'mask_into_scratch', 'AgentAttentionFunction', 'ChunkedMlpFunction',
    'chunked_mlp_forward', 'scratch', 'release_scratch', 'is_compiling', 'is_capturing'
]


def is_compiling():
    compiler = getattr(torch, 'compiler', None)
    return bool(compiler is not None and compiler.is_compiling())


def is_capturing():
    """Whether a graph is being captured: ``torch.compile`` and ``torch.export`` (both
    report :func:`is_compiling`) or TorchScript tracing (FLOP counters). Eager-only
    paths (these kernels, ``out=`` products, bias factorisations) step aside then."""
    return is_compiling() or torch.jit.is_tracing()


def _eligible(x, enabled):
    return (enabled and x.device.type == 'cpu'
            and x.dtype in (torch.float32, torch.float64)
            and not torch.is_autocast_enabled('cpu') and not is_capturing())


def attention_kernel_applies(x, needs_grad, dropout, enabled):
    """Whether agent attention on ``x`` runs :class:`AgentAttentionFunction`
    (``enabled``: the layer's switch)."""
    return needs_grad and not dropout and _eligible(x, enabled)


def scratch_masks_apply(x, needs_grad, enabled):
    """Whether agent attention on ``x`` takes its inference masks from scratch."""
    return not needs_grad and _eligible(x, enabled)


def mask_into_scratch(side, grid, resize):
    """One agent-attention mask of a call (``side`` is ``agent_side`` or
    ``token_side`` of :mod:`~mmagent.models.layers.agent_attention`) as a 4-D SDPA mask
    written into scratch slot 2. Valid until the slot's next use: the caller consumes it
    before building the other side's mask (inference only, nothing keeps it)."""
    return side(grid, resize, into=lambda shape: scratch(2, shape, grid)).unsqueeze(0)


def mlp_kernel_path(mlp, x):
    """``'train'`` (:class:`ChunkedMlpFunction`),
    ``'infer'`` (:func:`chunked_mlp_forward`)
    or ``None`` (the plain modules) for ``mlp`` on ``x``."""
    if not _eligible(x, mlp.use_cpu_kernels) or (mlp.training and mlp.drop.p > 0):
        return None
    if torch.is_grad_enabled() and (x.requires_grad or mlp.fc1.weight.requires_grad
                                    or mlp.fc2.weight.requires_grad):
        return 'train'
    return 'infer'


# -- scratch memory ---------------------------------------------------------------------
_local = threading.local()


def scratch(slot, shape, like):
    """An uninitialised CPU tensor of ``shape`` with the dtype of ``like``, from a reused
    per-thread buffer.

    Args:
        slot (int): Which buffer. Two temporaries alive at the same time must use
            different slots; the caller must be done with a slot's tensor before it
            asks for the same slot again. Never save a scratch tensor for backward or
            return it.
        shape (tuple[int]): The shape wanted (contiguous).
        like (Tensor): Gives dtype (and device: anything but the CPU gets
            ``torch.empty``).
    """
    if like.device.type != 'cpu':
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    numel = 1
    for s in shape:
        numel *= s
    pools = getattr(_local, 'pools', None)
    if pools is None:
        pools = _local.pools = {}
    key = (slot, like.dtype)
    buf = pools.get(key)
    if buf is None or buf.numel() < numel:
        buf = pools[key] = torch.empty(numel, dtype=like.dtype)
    return buf[:numel].view(shape)


def release_scratch():
    """Free this thread's scratch buffers (they are rebuilt on the next use)."""
    _local.pools = {}


# -- agent attention ------------------------------------------------------------------
def _softmax_(x):
    """Softmax over the last dim, in place (no fresh page-faulted output)."""
    return torch.ops.aten._softmax.out(x, -1, False, out=x)


def _softmax_backward_(grad, probs):
    """dS = P * (dP - rowsum(dP * P)), written over ``grad`` (dP)."""
    grad.mul_(probs)
    grad.addcmul_(probs, grad.sum(dim=-1, keepdim=True), value=-1)
    return grad


class AgentAttentionFunction(torch.autograd.Function):
    """Both attention steps of agent attention, with a hand-written backward.

    Args (forward):
        q, k, v (Tensor): (B, N, C) token projections; strided views are read in place.
        agents (Tensor): (B, n, C) agent tokens.
        agent_bias (Tensor): (h, n, N), added to the agents' logits over the tokens.
        token_bias (Tensor): (h, N, n), added to the tokens' logits over the agents.
        num_heads (int), scale (float).

    Returns (B, N, C): softmax(s Q A^T + token_bias) softmax(s A K^T + agent_bias) V,
    heads merged on the channel axis. Gradients for every input, the biases' (summed
    over the batch) included. No double backward.
    """

    @staticmethod
    def forward(ctx, q, k, v, agents, agent_bias, token_bias, num_heads, scale):
        batch, num_tokens, channels = q.shape
        num_agents = agents.shape[1]
        d = channels // num_heads
        out = q.new_empty(batch, num_tokens, channels)
        agent_v = q.new_empty(batch, num_agents, channels)
        probs_a = q.new_empty(num_heads, batch, num_agents, num_tokens)
        probs_t = q.new_empty(num_heads, batch, num_tokens, num_agents)
        for i in range(num_heads):
            c = slice(i * d, (i + 1) * d)
            a_i = agents[..., c]
            # Aggregation: the agents read every token.
            p = torch.baddbmm(agent_bias[i].expand(batch, -1, -1), a_i,
                              k[..., c].transpose(1, 2), alpha=scale, out=probs_a[i])
            torch.bmm(_softmax_(p), v[..., c], out=agent_v[..., c])
            # Broadcast: every token reads the agents.
            p = torch.baddbmm(token_bias[i].expand(batch, -1, -1), q[..., c],
                              a_i.transpose(1, 2), alpha=scale, out=probs_t[i])
            torch.bmm(_softmax_(p), agent_v[..., c], out=out[..., c])
        ctx.save_for_backward(q, k, v, agents, agent_v, probs_a, probs_t)
        ctx.num_heads, ctx.scale = num_heads, scale
        return out

    @staticmethod
    @once_differentiable  # in-place and out= kernels: no double backward
    def backward(ctx, grad_out):
        q, k, v, agents, agent_v, probs_a, probs_t = ctx.saved_tensors
        needs = ctx.needs_input_grad
        num_heads, scale = ctx.num_heads, ctx.scale
        grad_out = grad_out.contiguous()
        batch, num_tokens, channels = q.shape
        num_agents = agents.shape[1]
        d = channels // num_heads
        grad_q, grad_k, grad_v = (q.new_empty(q.shape) for _ in range(3))
        grad_agents = q.new_empty(agents.shape)
        grad_ab = q.new_empty(num_heads, num_agents, num_tokens) if needs[4] else None
        grad_tb = q.new_empty(num_heads, num_tokens, num_agents) if needs[5] else None
        for i in range(num_heads):
            c = slice(i * d, (i + 1) * d)
            a_i, q_i, k_i, v_i = agents[..., c], q[..., c], k[..., c], v[..., c]
            ga_i = grad_agents[..., c]
            # Broadcast step.
            p = probs_t[i]
            g_av = torch.bmm(p.transpose(1, 2), grad_out[..., c])  # (B, n, d)
            g = torch.bmm(grad_out[..., c], agent_v[..., c].transpose(1, 2),
                          out=scratch(0, p.shape, p))
            g = _softmax_backward_(g, p)
            if grad_tb is not None:
                torch.sum(g, dim=0, out=grad_tb[i])
            torch.baddbmm(q_i, g, a_i, beta=0, alpha=scale, out=grad_q[..., c])
            torch.baddbmm(a_i, g.transpose(1, 2), q_i, beta=0, alpha=scale, out=ga_i)
            # Aggregation step.
            p = probs_a[i]
            g = torch.bmm(g_av, v_i.transpose(1, 2), out=scratch(0, p.shape, p))
            g = _softmax_backward_(g, p)
            if grad_ab is not None:
                torch.sum(g, dim=0, out=grad_ab[i])
            torch.bmm(p.transpose(1, 2), g_av, out=grad_v[..., c])
            ga_i.baddbmm_(g, k_i, alpha=scale)
            torch.baddbmm(k_i, g.transpose(1, 2), a_i, beta=0, alpha=scale,
                          out=grad_k[..., c])
        return grad_q, grad_k, grad_v, grad_agents, grad_ab, grad_tb, None, None


# -- MLP --------------------------------------------------------------------------------
#: elements of a chunk's hidden temporaries (16 MiB in float32)
CHUNK_ELEMENTS = 1 << 22


def _chunk_rows(hidden):
    return max(1, CHUNK_ELEMENTS // hidden)


def _linear_into(out, x, weight, bias):
    if bias is None:
        return torch.mm(x, weight.t(), out=out)
    return torch.addmm(bias, x, weight.t(), out=out)


def chunked_mlp_forward(x, w1, b1, w2, b2, keep_hidden=False):
    """``fc2(gelu(fc1(x)))`` in row chunks. Returns ``(y, x2, z)``: the output
    (..., C'), ``x`` as rows and, with ``keep_hidden``, fc1's output (rows, H) for
    backward; without it every hidden-sized temporary is chunk-sized scratch."""
    x2 = x.reshape(-1, x.shape[-1])
    rows = x2.shape[0]
    hidden = w1.shape[0]
    chunk = _chunk_rows(hidden)
    z = x2.new_empty(rows, hidden) if keep_hidden else None
    y = x2.new_empty(rows, w2.shape[0])
    for r in range(0, rows, chunk):
        s = slice(r, r + chunk)
        xs = x2[s]
        zs = z[s] if keep_hidden else scratch(1, (xs.shape[0], hidden), xs)
        zs = _linear_into(zs, xs, w1, b1)
        if keep_hidden:
            h = torch._C._nn.gelu(zs, out=scratch(0, zs.shape, zs))
        else:
            h = torch._C._nn.gelu(zs, out=zs)  # in place: nothing needs fc1's output
        _linear_into(y[s], h, w2, b2)
    return y.view(*x.shape[:-1], y.shape[-1]), x2, z


class ChunkedMlpFunction(torch.autograd.Function):
    """``fc2(gelu(fc1(x)))`` keeping only ``x`` and fc1's output for backward.

    Args (forward): x (..., C); w1 (H, C), b1 (H) or None; w2 (C', H), b2 (C') or None.
    Returns (..., C').
    """

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        y, x2, z = chunked_mlp_forward(x, w1, b1, w2, b2, keep_hidden=True)
        ctx.save_for_backward(x2, w1, w2, z)
        ctx.has_bias = (b1 is not None, b2 is not None)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    @once_differentiable  # in-place and out= kernels: no double backward
    def backward(ctx, grad_y):
        x2, w1, w2, z = ctx.saved_tensors
        need_x, need_w1, need_b1, need_w2, need_b2 = ctx.needs_input_grad
        rows, channels = x2.shape
        hidden = w1.shape[0]
        chunk = _chunk_rows(hidden)
        dy = grad_y.reshape(-1, grad_y.shape[-1])
        grad_x = x2.new_empty(rows, channels) if need_x else None
        grad_w1 = x2.new_zeros(w1.shape) if need_w1 else None
        grad_w2 = x2.new_zeros(w2.shape) if need_w2 else None
        grad_b1 = x2.new_zeros(hidden) if need_b1 and ctx.has_bias[0] else None
        grad_b2 = dy.sum(0) if need_b2 and ctx.has_bias[1] else None
        need_below = need_x or need_w1 or grad_b1 is not None
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
            if grad_w1 is not None:
                grad_w1.addmm_(dz.t(), x2[s])
            if need_x:
                torch.mm(dz, w1, out=grad_x[s])
        if grad_x is not None:
            grad_x = grad_x.view(ctx.x_shape)
        return grad_x, grad_w1, grad_b1, grad_w2, grad_b2
