"""Agent attention (Han et al., "Agent Attention: On the Integration of Softmax and
Linear Attention", ECCV 2024).

A small grid of agent tokens, pooled from the queries, sits between the N tokens and
themselves: the agents read all tokens (aggregation), then every token reads the agents
(broadcast). With n agents the cost is O(N n d) instead of O(N^2 d).

This module is the one implementation of the operation in mmagent; every agent
family uses it, and any host can take it. Parameter names and shapes follow the
published checkpoints.
"""
import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmagent.registry import MODELS
from . import cpu_kernels
from .runtime import DEFAULT_BIAS_CACHE_MB, BiasCacheBudget
from .windows import adaptive_avg_pool

__all__ = [
    'AgentAttention', 'AgentAttentionCore', 'agent_attention_biases', 'bias_grid',
    'agent_side', 'token_side', 'bilinear_matrix', 'check_agent_shape'
]


def check_agent_shape(value, name='downstream_agent_shape'):
    """Return ``value`` as a tuple of two positive ints, or raise naming ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        shape = tuple(value)
    except TypeError:
        shape = None
    if (shape is None or len(shape) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
        raise ValueError(f'{name} must be two positive integers (rows, cols), '
                         f'got {value!r}')
    return shape


def bilinear_matrix(in_size, out_size, dtype=torch.float32, device=None):
    """(out_size, in_size) weights of 1-D bilinear resizing with
    ``align_corners=False`` - the weights ``F.interpolate`` uses, as a matrix."""
    if isinstance(in_size, int) and isinstance(out_size, int):
        mat = _bilinear_matrix64(in_size, out_size)
    else:  # symbolic sizes (export): not cached
        mat = _bilinear_matrix64.__wrapped__(in_size, out_size)
    return mat.to(dtype=dtype, device=device, copy=True)  # never the cached tensor


@functools.lru_cache(maxsize=256)
def _bilinear_matrix64(in_size, out_size):
    scale = in_size / out_size
    src = ((torch.arange(out_size, dtype=torch.float64) + 0.5) * scale - 0.5).clamp(min=0)
    lo = src.floor().long().clamp(max=in_size - 1)
    hi = torch.where(lo < in_size - 1, lo + 1, lo)
    frac = src - lo
    mat = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    mat.index_put_((rows, lo), 1 - frac, accumulate=True)
    mat.index_put_((rows, hi), frac, accumulate=True)
    return mat


def agent_resize_matrix(pool, agent_shape, dtype=torch.float32, device=None):
    """(n, a) matrix resizing a row-major p x p agent grid to ``agent_shape``."""
    return torch.kron(
        bilinear_matrix(pool, agent_shape[0], dtype, device),
        bilinear_matrix(pool, agent_shape[1], dtype, device))


def bias_grid(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, hw_shape):
    """The six agent-bias parameters resized to the token map, before the agent grid.

    Returns:
        Tensor: (2h, a, N), the agent side (heads 0..h-1, summing ``an_bias`` and
        ``ah_bias + aw_bias``) stacked over the token side (heads h..2h-1, ``na_bias``
        and ``ha_bias + wa_bias``); N = H * W.

    The resizes are linear, so each pair of terms is stacked on the head axis and resized
    together, and the terms are summed here, before the agent-grid resize. On maps of
    concrete size (not in export, compilation or tracing) bilinear resizing is
    separable, so the grid is one batched product of per-row and per-column factors
    (:func:`_separable_grid`): 5-10x faster than two ``F.interpolate`` calls on
    Agent-Swin-T's maps at 800x1344 and 4-6x in backward, equal within float rounding.
    """
    if _separable_applies(hw_shape):
        return _separable_grid(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias,
                               hw_shape)

    def to_map(bias):  # (2h, a, r0, r1) -> (2h, a, H, W)
        return F.interpolate(bias, size=hw_shape, mode='bilinear', align_corners=False)

    grid = to_map(torch.cat([an_bias, na_bias])) + to_map(
        torch.cat([(ah_bias + aw_bias)[0], (ha_bias + wa_bias)[0].permute(0, 3, 1, 2)]))
    return grid.flatten(2)


def _separable_applies(hw_shape):
    return (all(isinstance(s, int) for s in hw_shape)
            and hw_shape[0] * hw_shape[1] >= SEPARABLE_MIN_TOKENS
            and not cpu_kernels.is_capturing())


#: Maps of fewer tokens resize with ``F.interpolate``: the product's few small ops cost
#: more there (Agent-DeiT-T's biases, measured here: 14x14 0.26 vs 0.16 ms per layer,
#: 20x20 0.20 vs 0.20, 28x28 0.25 vs 0.31).
SEPARABLE_MIN_TOKENS = 400


def _separable_grid(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, hw_shape):
    """:func:`bias_grid` as ``left @ right``: with bilinear matrices Ry (H, 7) and
    Rx (W, 7), G[y, x] = (Ry C Rx^T)[y, x] + u[y] + v[x] per (head, agent), where C
    is the 7x7 term and u, v the row and column terms resized to H and W; that is
    [Ry C, u, 1] @ [Rx^T; 1; v^T], a product with 9 inner terms."""
    height, width = hw_shape
    with torch.autocast(an_bias.device.type, enabled=False):
        dtype, device = an_bias.dtype, an_bias.device

        def resize(size, out):
            return bilinear_matrix(size, out, dtype, device)

        table = torch.cat([an_bias, na_bias])  # (2h, a, 7, 7)
        rows = torch.cat([ah_bias[0, ..., 0], ha_bias[0, :, :, 0].transpose(1, 2)])
        cols = torch.cat([aw_bias[0, :, :, 0], wa_bias[0, :, 0].transpose(1, 2)])
        ones = table.new_ones(()).expand(*table.shape[:2], 1, 1)
        left = torch.cat([
            resize(table.shape[2], height) @ table,
            (rows @ resize(rows.shape[-1], height).t()).unsqueeze(-1),
            ones.expand(-1, -1, height, 1)
        ], dim=-1)  # (2h, a, H, 9)
        right = torch.cat([
            resize(table.shape[3], width).t().expand(*table.shape[:2], -1, -1),
            ones.expand(-1, -1, 1, width),
            (cols @ resize(cols.shape[-1], width).t()).unsqueeze(-2)
        ], dim=-2)  # (2h, a, 9, W)
        return (left @ right).flatten(2)


def agent_side(grid, resize, into=None):
    """(h, n, N) agent-side bias from :func:`bias_grid`'s (2h, a, N) and the (n, a)
    agent-grid resize matrix: ``R @ G[:h]``.

    The spec's agent-grid resize (a bilinear resize over N channels) is one product with
    the matrix of the same bilinear weights, taken on the side that gives each bias in
    the layout attention reads, without a large transpose. ``into(shape)``, if given,
    returns the tensor to write the product into (a reused buffer).
    """
    heads = grid.shape[0] // 2
    resize = resize.to(device=grid.device, dtype=grid.dtype)
    out = None if into is None else into((heads, resize.shape[0], grid.shape[-1]))
    return torch.matmul(resize, grid[:heads], out=out)


def token_side(grid, resize, into=None):
    """(h, N, n) token-side bias: ``G[h:]^T @ R^T`` (see :func:`agent_side`)."""
    heads = grid.shape[0] // 2
    resize = resize.to(device=grid.device, dtype=grid.dtype)
    out = None if into is None else into((heads, grid.shape[-1], resize.shape[0]))
    return torch.matmul(grid[heads:].transpose(1, 2), resize.t(), out=out)


def grid_to_biases(grid, resize):
    """``(agent_side (h, n, N), token_side (h, N, n))``, both contiguous."""
    return agent_side(grid, resize), token_side(grid, resize)


def agent_attention_biases(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, hw_shape,
                           agent_shape, resize=None):
    """Resize the six agent-bias parameters to a token map and an agent grid.

    Args:
        an_bias, na_bias (Tensor): (h, a, 7, 7).
        ah_bias (Tensor): (1, h, a, R0, 1); aw_bias: (1, h, a, 1, R1).
        ha_bias (Tensor): (1, h, R0, 1, a); wa_bias: (1, h, 1, R1, a).
        hw_shape (tuple[int]): the token map (H, W).
        agent_shape (tuple[int]): the agent grid (ph, pw).
        resize (Tensor, optional): :func:`agent_resize_matrix` for this pool and
            ``agent_shape``; built here when not given (modules keep theirs as a buffer).

    Returns:
        tuple[Tensor]: ``agent_bias`` (h, n, N), added to the agents' logits over the
        tokens, and ``token_bias`` (h, N, n), added to the tokens' logits over the
        agents; n = ph * pw, N = H * W. Neither depends on the batch.
    """
    if resize is None:
        resize = agent_resize_matrix(math.isqrt(an_bias.shape[1]), agent_shape)
    grid = bias_grid(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, hw_shape)
    return grid_to_biases(grid, resize)


class AgentAttentionCore(BaseModule):
    """The agent-attention step without projections: the six agent biases, their eval
    cache and :meth:`attend`, which maps q, k, v (B, L, C) to the attended tokens.

    Families whose blocks own the q/k/v and output projections (Agent-CSwin) build on
    this directly; :class:`AgentAttention` adds them for Agent-PVT, Agent-Swin and
    Agent-DeiT. ``num_prefix_tokens`` leading tokens (a class token) take part in both
    steps but are not pooled into agents; a subclass gives them biases by overriding
    :meth:`side_bias`.

    Args: see :class:`AgentAttention` (``num_heads``, ``agent_num``, ``pretrain_hw``,
    ``downstream_agent_shape``, ``cache_biases``, ``bias_cache_mb``, ``cpu_kernels``,
    ``init_cfg``).
    """
    num_prefix_tokens = 0

    def __init__(self, num_heads, agent_num=49, pretrain_hw=(7, 7),
                 downstream_agent_shape=None, cache_biases=True,
                 bias_cache_mb=DEFAULT_BIAS_CACHE_MB, cpu_kernels=True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if (not isinstance(agent_num, int) or agent_num <= 0
                or math.isqrt(agent_num)**2 != agent_num):
            raise ValueError(f'agent_num must be a perfect square (4, 9, 16, 49, ...), '
                             f'got {agent_num!r}')
        pool = math.isqrt(agent_num)
        self.num_heads = num_heads
        self.agent_num = agent_num
        self.pretrain_hw = check_agent_shape(pretrain_hw, 'pretrain_hw')
        self.agent_shape = check_agent_shape((
            pool, pool) if downstream_agent_shape is None else downstream_agent_shape)
        self.cache_biases = cache_biases
        # A host replaces both with its model's (``configure_runtime``).
        self.bias_cache_budget = BiasCacheBudget(bias_cache_mb)
        self.use_cpu_kernels = bool(cpu_kernels)

        r0, r1 = self.pretrain_hw
        h, a = num_heads, agent_num
        self.an_bias = nn.Parameter(torch.zeros(h, a, 7, 7))
        self.na_bias = nn.Parameter(torch.zeros(h, a, 7, 7))
        self.ah_bias = nn.Parameter(torch.zeros(1, h, a, r0, 1))
        self.aw_bias = nn.Parameter(torch.zeros(1, h, a, 1, r1))
        self.ha_bias = nn.Parameter(torch.zeros(1, h, r0, 1, a))
        self.wa_bias = nn.Parameter(torch.zeros(1, h, 1, r1, a))
        for name in self.bias_names:
            trunc_normal_(getattr(self, name), std=.02)
        # Fixed by the pool and the agent grid: built once, moves with the module,
        # not stored in checkpoints.
        self.register_buffer('agent_resize', agent_resize_matrix(pool, self.agent_shape),
                             persistent=False)
        self._bias_cache = None
        self.register_load_state_dict_post_hook(
            lambda module, incompatible: module.clear_bias_cache())

    bias_names = ('an_bias', 'na_bias', 'ah_bias', 'aw_bias', 'ha_bias', 'wa_bias')
    #: parameters that :meth:`side_bias` adds (a subclass's prefix-token biases)
    side_bias_names = ()

    def clear_bias_cache(self):
        self._bias_cache = None

    def cached_bytes(self):
        """Bytes held by this layer's eval cache."""
        if self._bias_cache is None:
            return 0
        _, grid, sides = self._bias_cache
        return sum(t.numel() * t.element_size() for t in (grid, ) + (sides or ())
                   if t is not None)

    def train(self, mode=True):
        self.clear_bias_cache()  # training changes the biases
        return super().train(mode)

    def biases(self, hw_shape):
        """The resized biases ``(agent_bias (h, n, N), token_bias (h, N, n))``."""
        return grid_to_biases(
            self.bias_grid(hw_shape, self.an_bias.dtype), self.agent_resize)

    def _cache_key(self, hw_shape, dtype):
        """The eval cache's key for this call, or None where nothing may be cached
        (training, gradients to the biases, graph capture, ``cache_biases=False``)."""
        params = [getattr(self, n) for n in self.bias_names + self.side_bias_names]
        if (not self.cache_biases or self.training or cpu_kernels.is_compiling()
                or (torch.is_grad_enabled() and any(p.requires_grad for p in params))):
            return None
        # the version counters: an in-place edit (an optimizer step, ``normal_``)
        # changes the key, so an entry is never stale
        return (tuple(hw_shape), dtype, params[0].device,
                tuple((p.data_ptr(), p._version) for p in params))

    def bias_grid(self, hw_shape, dtype):
        """:func:`bias_grid` of this layer's parameters in ``dtype``; cached in eval
        mode without gradients (see ``cache_biases``)."""
        key = self._cache_key(hw_shape, dtype)
        entry = self._bias_cache
        params = [getattr(self, n) for n in self.bias_names]
        if key is not None and entry is not None and entry[0] == key:
            if entry[1] is not None:
                return entry[1]
            # the entry holds the side biases instead (see side_biases)
            return bias_grid(*params, hw_shape=hw_shape).to(dtype)
        grid = bias_grid(*params, hw_shape=hw_shape).to(dtype)
        self._bias_cache = None
        if key is not None and self.bias_cache_budget.admit(
                self,
                grid.numel() * grid.element_size()):
            self._bias_cache = (key, grid, None)
        return grid

    def side_biases(self, hw_shape, dtype, cached_only=False):
        """Both steps' biases of :meth:`side_bias`, 3-D. In eval, where the agent grid
        is not enlarged (n <= a: then they are as large as the grid, plus the prefix
        rows) and they fit the budget (small maps: every layer of Agent-DeiT-T at 224),
        they replace the grid in the cache, so a call makes no bias at all: at 224 the
        per-call products and class-token rows were about a tenth of Agent-DeiT-T's
        eval time. ``cached_only``: None unless the cache holds them or takes them now
        (large maps make each step's bias right before it)."""
        key = self._cache_key(hw_shape, dtype)
        entry = self._bias_cache
        if key is not None and entry is not None and entry[0] == key \
                and entry[2] is not None:
            return entry[2]
        budget = self.bias_cache_budget
        n = self.agent_resize.shape[0]
        nbytes = (2 * self.num_heads * n * dtype.itemsize *
                  (self.num_prefix_tokens + hw_shape[0] * hw_shape[1]))
        cacheable = (
            key is not None and n <= self.agent_num
            and nbytes + budget.used(exclude=self) <= budget.limit)
        if cached_only and not cacheable:
            return None
        grid = self.bias_grid(hw_shape, dtype)
        sides = (self.side_bias(agent_side, grid), self.side_bias(token_side, grid))
        if cacheable and budget.admit(self, nbytes):
            self._bias_cache = (key, None, sides)
        return sides

    def side_bias(self, side, grid):
        """One step's bias, 3-D: :func:`agent_side` (h, n, L) or :func:`token_side`
        (h, L, n) of ``grid``. Subclasses with prefix tokens add their rows here."""
        return side(grid, self.agent_resize)

    def attention_masks(self, hw_shape, dtype):
        """The biases as SDPA masks: 4-D (1, h, n, L) and (1, h, L, n), contiguous, in
        ``dtype``, differentiable; one per call and shape, shared by the whole batch.
        (A 3-D mask makes PyTorch's fused kernels fall back to the unfused path.)"""
        return tuple(b.unsqueeze(0) for b in self.side_biases(hw_shape, dtype))

    #: rows x agents x heads x batch of one chunk of the inference broadcast step
    broadcast_chunk_elements = 2**18

    def _broadcast_in_chunks(self, q, attn_drop):
        """The row count of :meth:`attend`'s chunked broadcast step, or None where it
        does not apply (grad mode, dropout in training, prefix tokens, graph capture,
        not the CPU float path, ``cpu_kernels=False``)."""
        if (self.num_prefix_tokens or torch.is_grad_enabled()
                or (self.training and attn_drop)
                or not cpu_kernels.scratch_masks_apply(q, False, self.use_cpu_kernels)):
            return None
        per_row = q.shape[0] * self.num_heads * self.agent_resize.shape[0]
        return max(1, self.broadcast_chunk_elements // per_row)

    def _mask_maker(self, cached, grid, prefix, q, needs_grad):
        """``mask(side)``: one step's 4-D mask. Uncached, each mask is built right
        before its step and freed after it: the two never exist at once (at 800x1344
        each is 65 MB in Agent-Swin's stage 1)."""
        if cached is not None:
            return lambda side: cached[side is token_side].unsqueeze(0)
        if not prefix and cpu_kernels.scratch_masks_apply(q, needs_grad,
                                                          self.use_cpu_kernels):
            return lambda side: cpu_kernels.mask_into_scratch(side, grid, self.
                                                              agent_resize)
        return lambda side: self.side_bias(side, grid).unsqueeze(0)

    @staticmethod
    def _broadcast_into(add_to, q_h, a_h, agent_v, scale, rows, token_bias):
        """The broadcast step added into ``add_to`` (B, L, C) in chunks of ``rows``
        tokens; ``token_bias(r0, r1)`` gives the chunk's (h, rows, n) bias."""
        heads, length, head_dims = q_h.shape[1:]
        for r0 in range(0, length, rows):
            r1 = min(length, r0 + rows)
            logits = torch.matmul(q_h[:, :, r0:r1], a_h.transpose(-2, -1))
            probs = torch.softmax(logits.mul_(scale).add_(token_bias(r0, r1)), dim=-1)
            add_to[:, r0:r1].unflatten(-1, (heads, head_dims)).add_(
                torch.matmul(probs, agent_v).transpose(1, 2))
        return add_to

    def check_tokens(self, length, hw_shape):
        """The number of prefix tokens, after checking ``length`` against the map."""
        prefix = self.num_prefix_tokens
        if length != prefix + hw_shape[0] * hw_shape[1]:
            raise ValueError(f'{type(self).__name__} got {length} tokens for a map of '
                             f'{hw_shape[0]}x{hw_shape[1]}' +
                             (f' and {prefix} prefix tokens' if prefix else ''))
        return prefix

    def attend(self, q, k, v, hw_shape, scale, attn_drop=0., add_to=None):
        """Both steps of agent attention on q, k, v (B, L, C), heads on the channel
        axis, L = prefix tokens + H * W (row-major); returns (B, L, C).

        Agents are the queries average-pooled over the map to the agent grid; they read
        every token (aggregation), then every token reads them (broadcast).

        ``add_to`` (B, L, C), if given, is added to the result (the layer's depthwise
        conv of V). In inference on the CPU path (no prefix tokens) the broadcast step
        then runs in row chunks that add into ``add_to`` in place and return it: no
        token-sized attention output, no token-side mask (at 800x1344 each of those was
        one more token-sized tensor at the eval peak; CSwin's stripes hold neither).
        """
        if add_to is not None:
            chunked = self._broadcast_in_chunks(q, attn_drop)
            if chunked is None:
                out = self.attend(q, k, v, hw_shape, scale, attn_drop)
                return add_to + out if torch.is_grad_enabled() else add_to.add_(out)
        batch, length, channels = q.shape
        height, width = hw_shape
        prefix = self.check_tokens(length, hw_shape)
        heads = self.num_heads
        head_dims = channels // heads
        # Agents: average-pool the queries over the map (channels-last view, no copy).
        agents = adaptive_avg_pool(
            q[:, prefix:].unflatten(1, (height, width)).permute(0, 3, 1, 2),
            self.agent_shape)
        agents = agents.flatten(2).transpose(1, 2)  # (B, n, C)

        drop = attn_drop if self.training else 0.
        needs_grad = torch.is_grad_enabled() and (q.requires_grad
                                                  or any(p.requires_grad
                                                         for p in self.parameters()))
        use_kernels = self.use_cpu_kernels
        if cpu_kernels.attention_kernel_applies(q, needs_grad, drop, use_kernels):
            return cpu_kernels.AgentAttentionFunction.apply(
                q, k, v, agents, *self.side_biases((height, width), self.an_bias.dtype),
                heads, scale)

        def split_heads(t):  # (B, L, C) -> (B, h, L, d), strided
            return t.unflatten(-1, (heads, head_dims)).transpose(1, 2)

        q_h, k_h, v_h, a_h = map(split_heads, (q, k, v, agents))
        cached = self.side_biases((height, width), q_h.dtype, cached_only=True)
        grid = None if cached is not None else self.bias_grid((height, width), q_h.dtype)
        mask = self._mask_maker(cached, grid, prefix, q, needs_grad)
        # Aggregation: the agents read every token.
        agent_v = F.scaled_dot_product_attention(a_h, k_h, v_h,
                                                 attn_mask=mask(agent_side),
                                                 dropout_p=drop, scale=scale)
        if add_to is not None:  # inference, CPU path: see the docstring
            return self._broadcast_into(
                add_to, q_h, a_h, agent_v, scale, chunked,
                lambda r0, r1: cached[1][:, r0:r1] if cached is not None else token_side(
                    grid[:, :, r0:r1], self.agent_resize))
        # Broadcast: every token reads the agents.
        out = F.scaled_dot_product_attention(q_h, a_h, agent_v,
                                             attn_mask=mask(token_side), dropout_p=drop,
                                             scale=scale)
        return out.transpose(1, 2).reshape(batch, length, channels)


@MODELS.register_module()
class AgentAttention(AgentAttentionCore):
    """Agent attention over a whole H x W token map.

    Args:
        embed_dims (int): Channels C of the tokens.
        num_heads (int): Number of heads; must divide ``embed_dims``.
        agent_num (int): Agent count a at pretraining; a perfect square. Sizes the
            agent biases. Defaults to 49.
        pretrain_hw (tuple[int] | int): The token map (R0, R1) at pretraining
            resolution; sizes the agent biases. Defaults to (7, 7).
        downstream_agent_shape (tuple[int] | None): The agent grid (ph, pw) used at
            run time. Defaults to None, meaning (sqrt(a), sqrt(a)).
        qkv_layout (str): ``'qkv'`` for one C->3C projection named ``qkv``
            (Agent-Swin), ``'q_kv'`` for ``q`` (C->C) and ``kv`` (C->2C) (Agent-PVT).
            Defaults to ``'qkv'``.
        qkv_bias (bool): Bias in the q/k/v projections. Defaults to True.
        qk_scale (float | None): Overrides the scale head_dim ** -0.5.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        kernel_size (int): Kernel of the depthwise conv on V. Defaults to 3.
        cache_biases (bool): In eval mode without gradients, keep the biases of the
            last (H, W) resized to the map (before the agent-grid resize, which is
            one small product per call) and reuse them. The entry is (2h, a, N): a/n
            of the masks' size (1/9 to 1/4 for the published geometry), so the cache
            adds a fraction of one layer's masks per layer, and all layers of one
            model together keep at most its ``bias_cache_mb``. Where the agent grid
            is not enlarged (n = a) the two masks are the entry's size, and a layer
            keeps them instead (no bias work per call). Dropped by ``train()``,
            ``load_state_dict``, ``.to()`` and dtype changes; in-place edits of the
            bias parameters are seen (their version counters are part of the key),
            edits through ``.data`` are not: call :meth:`clear_bias_cache` after them.
            Defaults to True.
        bias_cache_mb (float): The eval-cache budget of this layer on its own, in MiB;
            in a backbone the budget is the model's (its ``bias_cache_mb``), shared by
            its layers. Defaults to 4.
        cpu_kernels (bool): Use the CPU kernels of
            :mod:`~mmagent.models.layers.cpu_kernels` where they apply; in a backbone
            the backbone's ``cpu_kernels`` sets it. Defaults to True (False: PyTorch's
            own ops everywhere).
        init_cfg (dict | list[dict], optional): Initialization config.

    The forward takes ``x`` of shape (B, N, C) with N = H * W in row-major order and the
    map size ``hw_shape = (H, W)``, and returns (B, N, C).
    """

    def __init__(self, embed_dims, num_heads, agent_num=49, pretrain_hw=(7, 7),
                 downstream_agent_shape=None, qkv_layout='qkv', qkv_bias=True,
                 qk_scale=None, attn_drop=0., proj_drop=0., kernel_size=3,
                 cache_biases=True, bias_cache_mb=DEFAULT_BIAS_CACHE_MB, cpu_kernels=True,
                 init_cfg=None):
        if num_heads <= 0 or embed_dims % num_heads != 0:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by '
                             f'num_heads ({num_heads})')
        if qkv_layout not in ('qkv', 'q_kv'):
            raise ValueError(f"qkv_layout must be 'qkv' or 'q_kv', got {qkv_layout!r}")
        super().__init__(num_heads, agent_num=agent_num, pretrain_hw=pretrain_hw,
                         downstream_agent_shape=downstream_agent_shape,
                         cache_biases=cache_biases, bias_cache_mb=bias_cache_mb,
                         cpu_kernels=cpu_kernels, init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.head_dims = embed_dims // num_heads
        self.scale = qk_scale or self.head_dims**-0.5
        self.qkv_layout = qkv_layout

        if qkv_layout == 'qkv':
            self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        else:
            self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
            self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dwc = nn.Conv2d(embed_dims, embed_dims, kernel_size,
                             padding=kernel_size // 2, groups=embed_dims)

    def extra_repr(self):
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'agent_num={self.agent_num}, agent_shape={self.agent_shape}, '
                f'pretrain_hw={self.pretrain_hw}')

    def project_qkv(self, x):
        """q, k, v as (B, N, C). V is a product of its own (rows of the published
        ``qkv`` / ``kv`` weights), so it is dense: the depthwise conv reads it as a
        channels-last map without a copy. q and k may be strided views."""
        c = self.embed_dims
        layer = self.qkv if self.qkv_layout == 'qkv' else self.kv
        first = layer.weight.shape[0] - c  # rows before V's
        w, b = layer.weight, layer.bias
        before_v = F.linear(x, w[:first], None if b is None else b[:first])
        v = F.linear(x, w[first:], None if b is None else b[first:])
        if self.qkv_layout == 'qkv':
            q, k = before_v.chunk(2, dim=-1)
            return q, k, v
        return self.q(x), before_v, v

    def forward(self, x, hw_shape):
        batch, _, channels = x.shape
        height, width = hw_shape
        prefix = self.num_prefix_tokens
        q, k, v = self.project_qkv(x)

        def lepe():
            # Diversity restoration: depthwise conv on V viewed as an image. V is
            # dense (B, L, C), so the view is a channels-last map: no copy either way.
            v_map = v[:, prefix:].unflatten(1, (height, width)).permute(0, 3, 1, 2)
            return self.dwc(v_map).permute(0, 2, 3, 1).reshape(batch, height * width,
                                                               channels)

        if not prefix and not torch.is_grad_enabled():
            # inference: the attention added into the conv's output (attend's add_to)
            self.check_tokens(q.shape[1], hw_shape)  # before the conv reads the map
            return self.proj_drop(
                self.proj(
                    self.attend(q, k, v, hw_shape, self.scale, self.attn_drop,
                                add_to=lepe())))
        out = self.attend(q, k, v, hw_shape, self.scale, self.attn_drop)
        lepe = lepe()
        if prefix:
            out = torch.cat([out[:, :prefix], out[:, prefix:] + lepe], dim=1)
        else:
            out = out + lepe
        return self.proj_drop(self.proj(out))
