"""mmagent's memory-lean MLP sub-layer equals the plain rendering, chunked or not."""
import pytest
import torch
import torch.nn as nn

from mmagent.models.layers import Mlp
from mmagent.models.layers import mlp as mlp_module
from tests.reference_agent_attention import reference_mlp_forward


def _grads(outputs, tensors):
    torch.manual_seed(1)
    weights = [torch.randn_like(o) for o in outputs]
    loss = sum((o * w).sum() for o, w in zip(outputs, weights))
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize('chunk_elements', [1 << 22, 1000])  # one chunk / many, ragged
@pytest.mark.parametrize('with_norm', [True, False])
def test_norm_mlp_function_matches_plain_ops(monkeypatch, chunk_elements, with_norm):
    monkeypatch.setattr(mlp_module, 'CHUNK_ELEMENTS', chunk_elements)
    torch.manual_seed(0)
    mlp = Mlp(24, 96)
    norm = nn.LayerNorm(24, eps=1e-6) if with_norm else None
    if norm is not None:
        with torch.no_grad():
            norm.weight.normal_(1, 0.3)
            norm.bias.normal_(0, 0.3)
    x = torch.randn(3, 37, 24, requires_grad=True)
    params = [x] + list(mlp.parameters()) + (list(norm.parameters()) if norm else [])
    fast = mlp(x, norm=norm)
    assert fast.grad_fn is not None and 'NormMlpFunction' in type(fast.grad_fn).__name__
    plain = reference_mlp_forward(mlp, x, norm=norm)
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
    for a, b in zip(_grads([fast], params), _grads([plain], params)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_plain_path_without_gradients_and_with_dropout():
    mlp = Mlp(8, 16, drop=0.5).train()
    x = torch.randn(2, 5, 8, requires_grad=True)
    assert 'NormMlpFunction' not in type(mlp(x).grad_fn).__name__  # dropout: plain ops
    mlp.eval()
    with torch.no_grad():
        assert mlp(x).grad_fn is None


def test_frozen_norm_and_input_without_grad():
    """Only the MLP weights train (e.g. frozen norms): the rest gets no gradient."""
    torch.manual_seed(0)
    mlp, norm = Mlp(8, 32), nn.LayerNorm(8)
    norm.requires_grad_(False)
    x = torch.randn(2, 9, 8)
    out = mlp(x, norm=norm)
    out.square().sum().backward()
    assert norm.weight.grad is None and mlp.fc1.weight.grad is not None
    ref = Mlp(8, 32)
    ref.load_state_dict(mlp.state_dict())
    reference_mlp_forward(ref, x, norm=norm).square().sum().backward()
    torch.testing.assert_close(mlp.fc1.weight.grad, ref.fc1.weight.grad, atol=1e-5,
                               rtol=1e-4)


@pytest.mark.parametrize('chunk_elements', [1 << 22, 1000])
def test_inference_in_chunks_matches_plain_ops(monkeypatch, chunk_elements):
    monkeypatch.setattr(mlp_module, 'CHUNK_ELEMENTS', chunk_elements)
    torch.manual_seed(0)
    mlp, norm = Mlp(24, 96).eval(), nn.LayerNorm(24)
    x = torch.randn(2, 41, 24)
    with torch.no_grad():
        out = mlp(x, norm=norm)
        torch.testing.assert_close(out, reference_mlp_forward(mlp, x, norm=norm),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(mlp(x), reference_mlp_forward(mlp, x), atol=1e-5,
                                   rtol=1e-5)
