import pytest
import torch

from mmagent.models import AgentAttention
from mmagent.models.layers import agent_attention_biases
from tests.reference_agent_attention import reference_biases, reference_forward

# (map H, W), agent grid, pretraining grid, agent count
CASES = [
    ((7, 7), None, (7, 7), 49),  # pretraining geometry: every resize is identity
    ((13, 17), (12, 12), (56, 56), 9),  # PVT/Swin stage 1 downstream: upsampled agents
    ((5, 3), (4, 4), (28, 28), 16),  # map smaller than the agent grid
    ((28, 40), (28, 28), (14, 14), 49),
    ((1, 1), (7, 7), (7, 7), 49),  # a single token
]


@pytest.fixture(params=['interpolate', 'separable'])
def resize_path(request, monkeypatch):
    """Both ways of resizing the biases to the map, on every case (by default the
    separable product runs only on maps of at least SEPARABLE_MIN_TOKENS tokens)."""
    from mmagent.models.layers import agent_attention
    monkeypatch.setattr(agent_attention, 'SEPARABLE_MIN_TOKENS',
                        0 if request.param == 'separable' else 10**9)
    return request.param


def _module(layout, agent_num, pretrain_hw, shape, dims=48, heads=3):
    torch.manual_seed(0)
    m = AgentAttention(dims, heads, agent_num=agent_num, pretrain_hw=pretrain_hw,
                       downstream_agent_shape=shape, qkv_layout=layout)
    # Larger biases than the 0.02 init so that resizing errors would show.
    with torch.no_grad():
        for name in m.bias_names:
            getattr(m, name).normal_(0, 1)
    return m


@pytest.mark.parametrize('layout', ['qkv', 'q_kv'])
@pytest.mark.parametrize('hw,shape,pretrain_hw,agent_num', CASES)
def test_matches_literal_spec_rendering(layout, hw, shape, pretrain_hw, agent_num,
                                        resize_path):
    m = _module(layout, agent_num, pretrain_hw, shape)
    x = torch.randn(2, hw[0] * hw[1], 48, requires_grad=True)
    out = m(x, hw)
    ref = reference_forward(m, x, hw)
    assert out.shape == (2, hw[0] * hw[1], 48)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    params = [x] + list(m.parameters())
    g_fast = torch.autograd.grad((out * ref.detach()).sum(), params)
    g_ref = torch.autograd.grad((ref * ref.detach()).sum(), params)
    for p, a, b in zip(['x'] + [n for n, _ in m.named_parameters()], g_fast, g_ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=f'gradient of {p}')


@pytest.mark.parametrize('hw,shape,pretrain_hw,agent_num', CASES)
def test_bias_resizing_matches_spec(hw, shape, pretrain_hw, agent_num, resize_path):
    m = _module('qkv', agent_num, pretrain_hw, shape)
    fast = m.biases(hw)
    ref = reference_biases(m, *hw)
    n = m.agent_shape[0] * m.agent_shape[1]
    assert fast[0].shape == (3, n, hw[0] * hw[1]) and fast[1].shape == (3, hw[0] * hw[1],
                                                                        n)
    # float32 rounding of sums of N(0, 1) terms (the separable product sums in
    # another order than F.interpolate, which also rounds its weights in float32):
    # relative to the largest bias
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, atol=5e-6 * b.abs().max().item(), rtol=1e-5)


def test_biases_are_not_copied_per_image():
    m = _module('qkv', 9, (7, 7), (3, 3))
    agent_bias, token_bias = m.biases((6, 6))
    # (h, n, N) and (h, N, n): no batch axis at all.
    assert agent_bias.dim() == 3 and token_bias.dim() == 3


def test_parameter_names_and_shapes_follow_the_published_layout():
    m = AgentAttention(64, 2, agent_num=16, pretrain_hw=(28, 28), qkv_layout='q_kv')
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes['an_bias'] == (2, 16, 7, 7) and shapes['na_bias'] == (2, 16, 7, 7)
    assert shapes['ah_bias'] == (1, 2, 16, 28, 1)
    assert shapes['aw_bias'] == (1, 2, 16, 1, 28)
    assert shapes['ha_bias'] == (1, 2, 28, 1, 16)
    assert shapes['wa_bias'] == (1, 2, 1, 28, 16)
    assert shapes['q.weight'] == (64, 64) and shapes['kv.weight'] == (128, 64)
    assert shapes['dwc.weight'] == (64, 1, 3, 3) and 'dwc.bias' in shapes
    assert shapes['proj.weight'] == (64, 64)
    swin = AgentAttention(64, 2, qkv_layout='qkv')
    assert tuple(swin.state_dict()['qkv.weight'].shape) == (192, 64)


def test_biases_start_from_truncated_normal():
    m = AgentAttention(64, 2, agent_num=49, pretrain_hw=(56, 56))
    for name in m.bias_names:
        p = getattr(m, name)
        assert 0.015 < p.std().item() < 0.025, name
        assert abs(p.mean().item()) < 0.01, name
        assert p.abs().max().item() <= 2, name  # timm's bounds: absolute [-2, 2]


def test_module_is_buildable_from_registry():
    from mmagent.registry import MODELS
    m = MODELS.build(
        dict(type='AgentAttention', embed_dims=32, num_heads=2, agent_num=4,
             pretrain_hw=(8, 8)))
    assert isinstance(m, AgentAttention)
    assert m(torch.randn(1, 20, 32), (4, 5)).shape == (1, 20, 32)


@pytest.mark.parametrize('kwargs,match', [
    (dict(embed_dims=30, num_heads=4), 'embed_dims'),
    (dict(embed_dims=32, num_heads=2, agent_num=10), 'agent_num'),
    (dict(embed_dims=32, num_heads=2,
          downstream_agent_shape=(0, 3)), 'downstream_agent_shape'),
    (dict(embed_dims=32, num_heads=2,
          downstream_agent_shape=(2, 2, 2)), 'downstream_agent_shape'),
    (dict(embed_dims=32, num_heads=2, qkv_layout='kqv'), 'qkv_layout'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AgentAttention(**kwargs)


def test_free_function_is_batch_independent():
    m = _module('qkv', 16, (14, 14), (5, 6))
    a, b = agent_attention_biases(*[getattr(m, n) for n in m.bias_names],
                                  hw_shape=(9, 11), agent_shape=(5, 6))
    assert a.shape == (3, 30, 99) and b.shape == (3, 99, 30)
