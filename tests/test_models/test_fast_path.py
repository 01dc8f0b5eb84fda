"""mmagent's default path (PyTorch SDPA with the biases as masks, plain MLP) and its
CPU kernels against the literal spec rendering: whole backbones, autocast,
torch.compile, the inference bias cache; and the FLOPs counter."""
import copy

import pytest
import torch

from mmagent.models import AgentAttention, AgentPVT, AgentSwinTransformer
from tests.reference_agent_attention import reference_forward, use_spec_rendering


def spec_copy(model):
    return use_spec_rendering(copy.deepcopy(model))


@pytest.mark.parametrize('cpu_kernels', [False, True], ids=['default', 'cpu_kernels'])
@pytest.mark.parametrize('cls', [AgentPVT, AgentSwinTransformer])
@pytest.mark.parametrize('size', [(96, 128), (75, 203)])
def test_backbone_outputs_match_spec_rendering(cls, size, cpu_kernels):
    _backbone_matches_spec(cls, size, cpu_kernels)


def _backbone_matches_spec(cls, size, cpu_kernels):
    torch.manual_seed(0)
    fast = cls(arch='tiny', drop_path_rate=0., cpu_kernels=cpu_kernels).eval()
    with torch.no_grad():  # biases larger than the 0.02 init make differences visible
        for m in fast.modules():
            if isinstance(m, AgentAttention):
                for n in m.bias_names:
                    getattr(m, n).normal_(0, 0.5)
    ref = spec_copy(fast)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        for a, b in zip(fast(x), ref(x)):
            assert (a - b).abs().max().item() <= 1e-4
    # Training: outputs and every gradient.
    fast.train(), ref.train()
    outs = [m(x) for m in (fast, ref)]
    for o, m in zip(outs, (fast, ref)):
        sum((t * t).mean() for t in o).backward()
    for (name, p), q in zip(fast.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-3, msg=name)


def _layer(**kw):
    torch.manual_seed(0)
    m = AgentAttention(64, 2, agent_num=16, pretrain_hw=(14, 14),
                       downstream_agent_shape=(5, 6), **kw)
    with torch.no_grad():
        for n in m.bias_names:
            getattr(m, n).normal_(0, 0.5)
    return m


def test_autocast_bfloat16_forward_and_backward():
    m = _layer()
    x = torch.randn(2, 99, 64, requires_grad=True)
    ref = reference_forward(m, x, (9, 11))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = m(x, (9, 11))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=5e-2, rtol=5e-2)
    out.float().sum().backward()
    assert m.an_bias.grad is not None and torch.isfinite(m.an_bias.grad).all()
    assert torch.isfinite(x.grad).all()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert m.eval()(x, (9, 11)).dtype == torch.bfloat16


def test_torch_compile_without_graph_breaks_matches_spec():
    m = _layer()
    x = torch.randn(2, 99, 64, requires_grad=True)
    compiled = torch.compile(m, fullgraph=True, dynamic=False)  # fails on a graph break
    out = compiled(x, (9, 11))
    ref = reference_forward(m, x, (9, 11))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    g_fast = torch.autograd.grad(out.sum(), [x, m.an_bias, m.wa_bias, m.qkv.weight])
    g_ref = torch.autograd.grad(ref.sum(), [x, m.an_bias, m.wa_bias, m.qkv.weight])
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def _held(m):
    """The tensor an eval cache entry holds: the grid, or the side biases (small
    maps, agent grid not enlarged) in its place."""
    _, grid, sides = m._bias_cache
    return grid if grid is not None else sides[0]


def test_inference_cache_is_reused_and_never_stale():
    m = _layer().eval()
    x = torch.randn(1, 99, 64)
    with torch.no_grad():
        first = m(x, (9, 11))
        held = _held(m)
        m(x, (9, 11))
        assert _held(m) is held  # same shape: reused
        m(torch.randn(1, 12, 64), (3, 4))
        assert _held(m) is not held  # other shape: recomputed
        # load_state_dict with other biases: the next call sees them.
        other = _layer()
        with torch.no_grad():
            other.an_bias.add_(1.0)
        m.load_state_dict(other.state_dict())
        after_load = m(x, (9, 11))
        torch.testing.assert_close(after_load, reference_forward(m, x, (9, 11)))
        assert not torch.allclose(after_load, first)
    # An optimizer step changes the biases in place: no stale masks either.
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    m(x, (9, 11)).square().sum().backward()
    opt.step()
    m.eval()
    with torch.no_grad():
        # lr=1 makes outputs of order 1e3: compare relative to that.
        torch.testing.assert_close(
            m(x, (9, 11)), reference_forward(m, x, (9, 11)), rtol=1e-5, atol=1e-4)
        m.double()  # a dtype change is a cache miss
        out = m(x.double(), (9, 11))
        assert out.dtype == torch.float64 and _held(m).dtype == torch.float64
        torch.testing.assert_close(out, reference_forward(m, x.double(), (9, 11)))


def test_cache_holds_the_map_sized_biases_not_the_masks():
    """The cache entry is (2h, a, N): a/n of the two masks' size."""
    m = AgentAttention(96, 3, agent_num=9, pretrain_hw=(56, 56),
                       downstream_agent_shape=(9, 9)).eval()
    with torch.no_grad():
        m(torch.randn(1, 40 * 50, 96), (40, 50))
    grid = m._bias_cache[1]
    assert grid.shape == (6, 9, 2000)
    masks = m.attention_masks((40, 50), torch.float32)
    mask_elements = sum(t.numel() for t in masks)
    assert grid.numel() * 9 == mask_elements  # a = 9 agents cached, n = 81 used


def test_training_does_not_cache():
    m = _layer().train()
    m(torch.randn(1, 99, 64), (9, 11)).sum().backward()
    assert m._bias_cache is None


def test_flop_counter_counts_the_agent_operation():
    from mmengine.analysis import FlopAnalyzer

    from mmagent.analysis import flop_analyzer
    m = AgentAttention(64, 2, agent_num=16, pretrain_hw=(14, 14),
                       downstream_agent_shape=(4, 4)).eval()
    x = torch.randn(1, 20 * 30, 64)
    hw = (20, 30)

    class Wrap(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.m = copy.deepcopy(m)

        def forward(self, x):
            return self.m(x, hw)

    with torch.no_grad():
        ours = flop_analyzer(Wrap(), (x, ))
        stock = FlopAnalyzer(Wrap(), (x, ))
        stock.unsupported_ops_warnings(False)
        n, N, d, h = 16, 600, 32, 2
        # Two attentions, each two products of n*N*d multiply-adds per head.
        expected = 2 * 2 * h * n * N * d
        assert ours.by_operator()['scaled_dot_product_attention'] == expected
        assert ours.total() - stock.total() == expected


def test_get_flops_tool_matches_published_figure():
    import os.path as osp
    import sys

    from tests.conftest import ROOT
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    from get_flops import analyse
    r = analyse(osp.join(ROOT, 'configs', 'retinanet_agent_pvt_t.py'), 800, 1280)
    assert abs(r['flops'] / 1e9 - 211) / 211 < 0.05  # model_zoo.md: 211G
    assert r['attention_flops'] > 0


def test_plain_training_path_is_sdpa_and_gives_the_bias_gradients():
    """``cpu_kernels=False`` (the path CUDA and half precision take)."""
    m = _layer(cpu_kernels=False).train()
    x = torch.randn(2, 99, 64, requires_grad=True)
    out = m(x, (9, 11))
    seen, stack = set(), [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is not None and fn not in seen:
            seen.add(fn)
            stack.extend(f for f, _ in fn.next_functions)
    assert not any('AgentAttentionFunction' in type(fn).__name__ for fn in seen)
    ref = reference_forward(m, x, (9, 11))
    params = [m.an_bias, m.ah_bias, m.na_bias, m.wa_bias]
    for a, b in zip(
            torch.autograd.grad(out.square().sum(), params),
            torch.autograd.grad(ref.square().sum(), params)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_bias_caches_of_one_model_stay_within_its_budget():
    from torch import nn

    from mmagent.models.layers import configure_runtime
    entry = 2 * 2 * 9 * 600 * 4  # (2h, a, N) float32
    layers = configure_runtime(
        nn.ModuleList(
            [AgentAttention(32, 2, agent_num=9, pretrain_hw=(8, 8)) for _ in range(3)]),
        bias_cache_mb=2 * entry / 2**20).eval()
    # another model's caches count against its own budget, not this one's
    other = configure_runtime(
        nn.ModuleList(
            [AgentAttention(32, 2, agent_num=9, pretrain_hw=(8, 8)) for _ in range(2)]),
        bias_cache_mb=2 * entry / 2**20).eval()
    x = torch.randn(1, 20 * 30, 32)
    with torch.no_grad():
        [m(x, (20, 30)) for m in other]
        outs = [m(x, (20, 30)) for m in layers]
        assert [m._bias_cache is not None for m in layers] == [True, True, False]
        assert all(m._bias_cache is not None for m in other)
        # the layer over budget recomputes: same result, still no entry
        torch.testing.assert_close(layers[2](x, (20, 30)), outs[2])
        assert layers[2]._bias_cache is None
        # a freed entry (train() drops it) makes room again
        layers[0].train().eval()
        layers[2](x, (20, 30))
        assert layers[2]._bias_cache is not None


def test_backbone_budget_is_an_argument_and_zero_turns_the_cache_off():
    m = AgentPVT(depths=[1, 1, 1, 1], bias_cache_mb=0).eval()
    budgets = {
        id(x.bias_cache_budget)
        for x in m.modules() if hasattr(x, 'bias_cache_budget')
    }
    assert len(budgets) == 1
    with torch.no_grad():
        m(torch.randn(1, 3, 64, 64))
    assert all(x._bias_cache is None for x in m.modules() if hasattr(x, '_bias_cache'))
    copy_ = copy.deepcopy(m)
    assert next(x.bias_cache_budget for x in copy_.modules()
                if hasattr(x, 'bias_cache_budget')) is not next(
                    x.bias_cache_budget for x in m.modules()
                    if hasattr(x, 'bias_cache_budget'))


def test_flop_count_is_the_same_whether_or_not_the_model_ran():
    """Agent-CSwin's branch layers cache too: the count must not depend on a cache
    left by an earlier run at the same size."""
    from mmagent.analysis import flop_analyzer
    from mmagent.models import AgentCSWin
    m = AgentCSWin(depths=[1, 1, 1, 1], drop_path_rate=0.).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        fresh = flop_analyzer(m, (x, )).total()
        m(x)
        assert any(
            getattr(layer, '_bias_cache', None) is not None for layer in m.modules())
        again = flop_analyzer(m, (x, )).total()
    assert fresh == again


def test_small_maps_cache_the_masks_themselves():
    """Agent-DeiT-T at 224 (issue 22): every agent layer keeps its two masks, class
    token rows included, within the default 4 MiB; outputs equal the uncached model's,
    and an in-place edit of a class-token bias is seen at once."""
    from mmagent.models import AgentDeiT
    from mmagent.models.layers.runtime import DEFAULT_BIAS_CACHE_MB
    torch.manual_seed(0)
    m = AgentDeiT(arch='tiny').eval()
    plain = AgentDeiT(arch='tiny', bias_cache_mb=0).eval()
    plain.load_state_dict(m.state_dict())
    x = torch.randn(1, 3, 224, 224)
    layers = [b.attn for b in m.blocks if hasattr(b.attn, '_bias_cache')]
    with torch.no_grad():
        torch.testing.assert_close(m(x), plain(x), atol=0, rtol=0)
        assert len(layers) == 12
        held = [layer._bias_cache[2] for layer in layers]
        assert all(h is not None and layer._bias_cache[1] is None
                   for h, layer in zip(held, layers))
        assert held[0][0].shape == (3, 49, 197) and held[0][1].shape == (3, 197, 49)
        assert sum(layer.cached_bytes()
                   for layer in layers) <= DEFAULT_BIAS_CACHE_MB * 2**20
        m(x)
        assert all(layer._bias_cache[2] is h for h, layer in zip(held, layers))
        for model in (m, plain):
            model.blocks[3].attn.ca_bias.add_(0.5)
        torch.testing.assert_close(m(x), plain(x), atol=0, rtol=0)


@pytest.mark.parametrize('cache_mb', [4, 0], ids=['cached_masks', 'grid_each_call'])
@pytest.mark.parametrize('family', ['agent_attention', 'agent_cswin'])
def test_inference_broadcast_in_row_chunks_equals_the_spec(family, cache_mb):
    """In inference the broadcast step adds into the depthwise conv's output in row
    chunks (issue 22: no token-sized attention output or token-side mask); forced to
    many uneven chunks here, with the masks cached or the grid resized per call, and on
    the plain path (cpu_kernels=False, one SDPA output added in place)."""
    from mmagent.models.backbones.agent_cswin import CSWinAgentAttention
    from mmagent.models.layers import configure_runtime
    from tests.reference_cswin import use_cswin_reference
    torch.manual_seed(0)
    hw, dims = (9, 13), 32
    for cpu_kernels in (True, False):
        if family == 'agent_attention':
            m = AgentAttention(dims, 2, agent_num=9, pretrain_hw=(7, 7),
                               downstream_agent_shape=(3, 4), bias_cache_mb=cache_mb,
                               cpu_kernels=cpu_kernels)
        else:
            m = configure_runtime(
                CSWinAgentAttention(dims, 2, agent_num=9, pretrain_hw=(7, 7)),
                cpu_kernels=cpu_kernels, bias_cache_mb=cache_mb)
        with torch.no_grad():
            for n in m.bias_names:
                getattr(m, n).normal_(0, 0.5)
        m.eval().broadcast_chunk_elements = 2 * 2 * 12 * 10  # 10 rows: 12 chunks
        x = torch.randn(2, hw[0] * hw[1], dims)
        with torch.no_grad():
            if family == 'agent_attention':
                out, ref = m(x, hw), reference_forward(m, x, hw)
            else:
                q, k, v = (torch.randn(2, hw[0] * hw[1], dims) for _ in range(3))
                n_agents = m.agent_resize.shape[0]
                assert m._broadcast_in_chunks(
                    q, 0.) == (10 * 12 // n_agents if cpu_kernels else None)
                out = m(q, k, v, hw)
                ref = use_cswin_reference(copy.deepcopy(m))(q, k, v, hw)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
        held = m._bias_cache
        assert (held is not None) == (cache_mb > 0)
