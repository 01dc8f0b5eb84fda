"""The CPU kernels (mmagent.models.layers.cpu_kernels) behind their per-model switch:
each equal to the reference rendering, used only where the switch and the input
allow."""
import pytest
import torch

from mmagent.models import AgentAttention
from mmagent.models.layers import Mlp, cpu_kernels
from tests.reference_agent_attention import reference_forward, reference_mlp_forward


def _graph_names(out):
    seen, stack = set(), [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is not None and fn not in seen:
            seen.add(fn)
            stack.extend(f for f, _ in fn.next_functions)
    return {type(fn).__name__ for fn in seen}


def _layer(cpu_kernels=True):
    torch.manual_seed(0)
    m = AgentAttention(64, 2, agent_num=16, pretrain_hw=(14, 14),
                       downstream_agent_shape=(5, 6), cpu_kernels=cpu_kernels)
    with torch.no_grad():
        for n in m.bias_names:
            getattr(m, n).normal_(0, 0.5)
    return m


def _grads(outputs, tensors):
    torch.manual_seed(1)
    weights = [torch.randn_like(o) for o in outputs]
    loss = sum((o * w).sum() for o, w in zip(outputs, weights))
    return torch.autograd.grad(loss, tensors)


def test_switch_is_on_by_default_and_chosen_per_model():
    """The model picks the kernels by itself (CPU float32 training here);
    ``cpu_kernels=False`` forces the plain path."""
    from mmagent.models import AgentPVT
    m = _layer(cpu_kernels=False).train()
    assert 'AgentAttentionFunctionBackward' not in _graph_names(
        m(torch.randn(1, 99, 64), (9, 11)))
    plain = AgentPVT(depths=[1, 1, 1, 1], cpu_kernels=False)
    fast = AgentPVT(depths=[1, 1, 1, 1])
    switches = [[
        x.use_cpu_kernels for x in model.modules()
        if isinstance(x, (AgentAttention, Mlp))
    ] for model in (plain, fast)]
    assert switches[0] and not any(switches[0]) and all(switches[1])
    x = torch.randn(1, 3, 64, 64)
    assert 'AgentAttentionFunctionBackward' in _graph_names(fast.train()(x)[0])
    assert 'AgentAttentionFunctionBackward' not in _graph_names(plain.train()(x)[0])


def test_attention_function_in_training_and_frozen_biases():
    m = _layer().train()
    x = torch.randn(2, 99, 64, requires_grad=True)
    out = m(x, (9, 11))
    assert 'AgentAttentionFunctionBackward' in _graph_names(out)
    ref = reference_forward(m, x, (9, 11))
    params = [x] + list(m.parameters())
    for a, b in zip(_grads([out], params), _grads([ref], params)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # Frozen biases (e.g. fine-tuning everything else): the rest still matches the spec.
    for n in m.bias_names:
        getattr(m, n).requires_grad_(False)
    out = m(x, (9, 11))
    ref = reference_forward(m, x, (9, 11))
    params = [x, m.qkv.weight, m.dwc.weight]
    for a, b in zip(
            torch.autograd.grad(out.square().sum(), params),
            torch.autograd.grad(ref.square().sum(), params)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert m.an_bias.grad is None


def test_kernels_stay_out_of_autocast_dropout_and_inference():
    m = _layer().train()
    x = torch.randn(1, 99, 64)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert 'AgentAttentionFunctionBackward' not in _graph_names(m(x, (9, 11)))
    m.attn_drop = 0.1
    assert 'AgentAttentionFunctionBackward' not in _graph_names(m(x, (9, 11)))
    mlp = Mlp(8, 16, drop=0.5, cpu_kernels=True).train()
    assert 'ChunkedMlpFunction' not in type(mlp(torch.randn(2, 5, 8)).grad_fn).__name__


def test_double_backward_is_refused_not_silently_wrong():
    m = _layer().train()
    x = torch.randn(1, 99, 64, requires_grad=True)
    (g, ) = torch.autograd.grad(m(x, (9, 11)).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match='once_differentiable|differentiable'):
        g.sum().backward()


@pytest.mark.parametrize('chunk_elements', [1 << 22, 1000])  # one chunk / many, ragged
def test_chunked_mlp_function_matches_plain_ops(monkeypatch, chunk_elements):
    monkeypatch.setattr(cpu_kernels, 'CHUNK_ELEMENTS', chunk_elements)
    torch.manual_seed(0)
    mlp = Mlp(24, 96, cpu_kernels=True)
    x = torch.randn(3, 37, 24, requires_grad=True)
    params = [x] + list(mlp.parameters())
    fast = mlp(x)
    assert 'ChunkedMlpFunction' in type(fast.grad_fn).__name__
    plain = reference_mlp_forward(mlp, x)
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
    for a, b in zip(_grads([fast], params), _grads([plain], params)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_chunked_mlp_with_frozen_weights_and_input_without_grad():
    torch.manual_seed(0)
    mlp = Mlp(8, 32, cpu_kernels=True)
    mlp.fc2.requires_grad_(False)
    x = torch.randn(2, 9, 8)
    mlp(x).square().sum().backward()
    assert mlp.fc2.weight.grad is None and mlp.fc1.weight.grad is not None
    ref = Mlp(8, 32)
    ref.load_state_dict(mlp.state_dict())
    reference_mlp_forward(ref, x).square().sum().backward()
    torch.testing.assert_close(mlp.fc1.weight.grad, ref.fc1.weight.grad, atol=1e-5,
                               rtol=1e-4)


@pytest.mark.parametrize('chunk_elements', [1 << 22, 1000])
def test_chunked_inference_matches_plain_ops(monkeypatch, chunk_elements):
    monkeypatch.setattr(cpu_kernels, 'CHUNK_ELEMENTS', chunk_elements)
    torch.manual_seed(0)
    mlp = Mlp(24, 96, cpu_kernels=True).eval()
    x = torch.randn(2, 41, 24)
    with torch.no_grad():
        torch.testing.assert_close(
            mlp(x), reference_mlp_forward(mlp, x), atol=1e-5, rtol=1e-5)


def test_scratch_slots_are_reused_per_slot_and_never_shared_between_slots():
    from mmagent.models.layers.cpu_kernels import release_scratch, scratch
    like = torch.zeros(1)
    a = scratch(0, (4, 5), like)
    b = scratch(0, (2, 3), like)  # smaller: the same memory
    c = scratch(1, (4, 5), like)  # another slot: other memory
    assert a.data_ptr() == b.data_ptr() and c.data_ptr() != a.data_ptr()
    assert scratch(0, (100, ), like).numel() == 100  # grows when asked for more
    assert scratch(0, (3, ), like.double()).dtype == torch.float64
    release_scratch()
    assert scratch(0, (4, 5), like).shape == (4, 5)


def test_environment_no_longer_chooses_the_kernels():
    import subprocess
    import sys

    from tests.conftest import ROOT
    out = subprocess.run([
        sys.executable, '-c', 'from mmagent.models import AgentAttention; '
        'print(AgentAttention(8, 2, agent_num=4).use_cpu_kernels)'
    ], cwd=ROOT, capture_output=True, text=True, env={
        'PYTHONPATH': ROOT,
        'PATH': '/usr/bin:/bin',
        'MMAGENT_CPU_KERNELS': '0'
    })
    assert out.stdout.strip() == 'True', out.stderr[-2000:]


def test_inference_masks_come_from_scratch_and_match_the_spec():
    from mmagent.models.layers.cpu_kernels import scratch
    m = _layer().eval()
    x = torch.randn(2, 99, 64)
    with torch.no_grad():
        out = m(x, (9, 11))
        torch.testing.assert_close(out, reference_forward(m, x, (9, 11)), atol=1e-5,
                                   rtol=1e-5)
        # the masks of that call were built in slot 2, one after the other
        assert scratch(2, (1, ), x).numel() == 1
        assert scratch(2, (2, 99, 30), x).data_ptr() == scratch(2, (1, ), x).data_ptr()
        # a second map size reuses the same buffers and is still right
        y = torch.randn(1, 12, 64)
        torch.testing.assert_close(
            m(y, (3, 4)), reference_forward(m, y, (3, 4)), atol=1e-5, rtol=1e-5)
