"""FLatten-PVT, -PVTv2, -Swin and -CSwin: equal to a literal rendering of focused linear
attention at odd sizes, gradients, mixed precision, the training knobs, published
weights, named errors. (Classifier logits: tests/test_classification.py.)"""
import copy

import pytest
import torch

from mmagent.models import (FLattenCSWin, FLattenPVT, FLattenPVTv2,
                            FLattenSwinTransformer, FocusedLinearAttention)
from mmagent.testing import published_classification_state
from tests.reference_flatten import use_flatten_reference

# The authors' ImageNet classifiers, counted by running their code (head included).
AUTHORS_M = {
    (FLattenPVT, 'tiny'): 12.15,
    (FLattenPVTv2, 'b0'): 3.59,
    (FLattenPVTv2, 'b1'): 12.93,
    (FLattenSwinTransformer, 'tiny'): 29.19,
    (FLattenSwinTransformer, 'small'): 50.51,
    (FLattenSwinTransformer, 'base'): 88.97,
    (FLattenCSWin, 'tiny'): 21.20
}

# Small versions whose linear layers are sized for a 64 px pretraining, so that other
# sizes resize the positional encodings; stage maps of 64 px inputs and odd ones.
SMALL = {
    FLattenPVT:
    dict(
        arch=dict(embed_dims=[16, 32, 32, 64], depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1],
                  attn_type='LLLS'), pretrain_img_size=64),
    FLattenPVTv2:
    dict(
        arch=dict(embed_dims=[16, 32, 32, 64], depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1],
                  attn_type='LLLS'), pretrain_img_size=64),
    FLattenSwinTransformer:
    dict(
        arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4],
                  mlp_ratio=2., attn_type='LLSS'), pretrain_img_size=64, window_size=3),
    FLattenCSWin:
    dict(
        arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[2, 2, 4, 4],
                  mlp_ratio=2.), pretrain_img_size=64, split_size=(1, 2, 3, 3)),
}
FAMILIES = list(SMALL)


def _small(cls, **kw):
    kw.setdefault('drop_path_rate', 0.)
    return cls(**SMALL[cls], **kw)


def _ids(p):
    return getattr(p, '__name__', str(p))


@pytest.mark.parametrize('cls,arch', list(AUTHORS_M), ids=_ids)
def test_parameter_count_equals_the_authors_classifier(cls, arch):
    m = cls(arch=arch)
    n = sum(p.numel() for p in m.parameters())
    if cls in (FLattenSwinTransformer, FLattenCSWin):  # their final norm is our norm3
        n -= sum(p.numel() for i in range(3) for p in getattr(m, f'norm{i}').parameters())
    if cls is FLattenPVT:  # the authors' classifier builds a final norm it never uses
        n += 2 * m.embed_dims[-1]
    n += m.embed_dims[-1] * 1001  # the head
    assert abs(n / 1e6 - AUTHORS_M[(cls, arch)]) < 0.01


def _eval_model_with_visible_encodings(cls):
    """A small eval model whose positional encodings and scales are large enough
    that a mistake in them shows in the outputs."""
    torch.manual_seed(0)
    m = _small(cls).eval()
    with torch.no_grad():
        for mod in m.modules():
            if hasattr(mod, 'positional_encoding'):
                mod.positional_encoding.normal_(0, 0.5)
                mod.scale.normal_(0, 0.5)
    return m


@pytest.mark.parametrize('size', [(64, 64), (71, 45), (40, 134)])
@pytest.mark.parametrize('cls', FAMILIES, ids=_ids)
def test_equals_reference_rendering_at_any_size(cls, size):
    m = _eval_model_with_visible_encodings(cls)
    ref = use_flatten_reference(copy.deepcopy(m))
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        outs, refs = m(x), ref(x)
    assert len(outs) == 4
    for a, b in zip(outs, refs):
        assert a.shape == b.shape and a.shape[0] == 2
        assert (a - b).abs().max().item() <= 1e-4


@pytest.mark.parametrize('cls', FAMILIES, ids=_ids)
def test_gradients_equal_the_reference_and_reach_every_parameter(cls):
    torch.manual_seed(0)
    m = _small(cls).train()
    ref = use_flatten_reference(copy.deepcopy(m))
    x = torch.randn(2, 3, 52, 76)
    for model in (m, ref):
        sum((o * o).mean() for o in model(x)).backward()
    for (name, p), q in zip(m.named_parameters(), ref.parameters()):
        if name.endswith('relative_position_bias_table') and p.grad is None:
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-3, msg=name)


@pytest.mark.parametrize('cls', FAMILIES, ids=_ids)
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_mixed_precision_forward_and_backward_stay_finite(cls, dtype):
    torch.manual_seed(0)
    m = _small(cls).train()
    with torch.no_grad():  # large activations: x**3 of these overflows in fp16
        for mod in m.modules():
            if isinstance(mod, torch.nn.Linear):
                mod.weight.mul_(8)
    x = torch.randn(2, 3, 64, 96) * 4
    with torch.autocast('cpu', dtype=dtype):
        outs = m(x)
        loss = sum(o.float().square().mean() for o in outs)
    loss.backward()
    assert all(torch.isfinite(o).all() for o in outs)
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


@pytest.mark.parametrize('grad', [True, False], ids=['training', 'inference'])
def test_focused_linear_runs_in_float32_under_autocast(grad):
    torch.manual_seed(0)
    m = FocusedLinearAttention(32, 4, (6, 8))
    x = torch.randn(2, 48, 32) * 30
    with torch.set_grad_enabled(grad), torch.autocast('cpu', dtype=torch.float16):
        out = m(x, (6, 8))
    with torch.set_grad_enabled(grad):
        ref = m(x, (6, 8))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), ref, atol=0.05 * ref.abs().max().item(),
                               rtol=0.05)


@pytest.mark.parametrize('cls', FAMILIES, ids=_ids)
def test_frozen_stages_and_with_cp(cls):
    m = _small(cls, frozen_stages=1).train()
    frozen = {n for n, p in m.named_parameters() if not p.requires_grad}
    assert frozen and all(p.requires_grad
                          for n, p in m.named_parameters() if n not in frozen)
    before = {n: p.detach().clone() for n, p in m.named_parameters() if n in frozen}
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    sum(o.mean() for o in m(torch.randn(1, 3, 64, 64))).backward()
    opt.step()
    assert all(torch.equal(p, before[n]) for n, p in m.named_parameters() if n in frozen)
    torch.manual_seed(0)
    plain, ckpt = _small(cls).train(), _small(cls, with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 48, 64)
    for a, b in zip(plain(x), ckpt(x)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('cls', FAMILIES, ids=_ids)
def test_published_imagenet_checkpoint_loads_with_no_missing_keys(cls, tmp_path):
    torch.manual_seed(0)
    arch = 'b0' if cls is FLattenPVTv2 else 'tiny'
    src = cls(arch=arch)
    state = published_classification_state(src)
    torch.save({'model': state}, tmp_path / 'in1k.pth')
    dst = cls(arch=arch)
    missing, ignored = dst.load_pretrained(str(tmp_path / 'in1k.pth'))
    assert missing == []
    assert {'head.weight', 'head.bias'} <= set(ignored)
    for k, v in src.state_dict().items():
        classifier_norm = k.startswith(('norm0', 'norm1.', 'norm2.', 'norm3'))
        if not classifier_norm or cls is FLattenPVTv2:
            torch.testing.assert_close(dst.state_dict()[k], v, msg=k)


@pytest.mark.parametrize('cls,kwargs,match,error', [
    (FLattenPVT, dict(arch='huge'), 'unknown arch', ValueError),
    (FLattenPVT, dict(agent_num=[9, 16, 49, 49]), 'agent_num', TypeError),
    (FLattenPVT, dict(attn_type='AAAA'), 'attn_type', ValueError),
    (FLattenPVT, dict(kernel_size=4), 'kernel_size', ValueError),
    (FLattenSwinTransformer, dict(focusing_factor=0), 'focusing_factor', ValueError),
    (FLattenSwinTransformer, dict(downstream_agent_shapes=[(3, 3)] * 4),
     'downstream_agent_shapes', TypeError),
    (FLattenCSWin, dict(attn_type='LLS'), 'attn_type', ValueError),
    (FLattenPVTv2, dict(arch='b9'), 'unknown arch', ValueError),
    (FLattenPVTv2, dict(depths=[2, 2, 2]), 'depths', ValueError),
    (FLattenPVTv2, dict(la_sr_ratios=[1, 1]), 'la_sr_ratios', ValueError),
])
def test_bad_arguments_are_named(cls, kwargs, match, error):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize('kernel_size', [1, 3, 7])
def test_cswin_branch_runs_its_two_convs_of_v_as_one_in_inference(kernel_size):
    """FLatten-CSwin's inference sums FLatten's head-shared conv and LePE's into one
    depthwise kernel (issue 22: one token-sized output instead of two); equal to the
    two convs for any kernel size of FLatten's."""
    from mmagent.models.backbones.flatten import CSWinFocusedAttention
    from mmagent.models.layers.focused_linear_attention import shared_dwc
    from mmagent.models.layers.stripe_attention import lepe
    torch.manual_seed(0)
    m = CSWinFocusedAttention(32, 4, (6, 8), kernel_size=kernel_size).eval()
    v = torch.randn(2, 9 * 11, 96)[..., 64:]  # a strided slice, as the block's V
    with torch.no_grad():
        merged = m.convs_of_v(v, (9, 11))
        two = shared_dwc(m.dwc, v, (9, 11), 4) + lepe(m.get_v, v, (9, 11))
        torch.testing.assert_close(merged, two, atol=1e-5, rtol=1e-5)
        q, k = torch.randn(2, 2, 99, 32).unbind(0)
        inference = m(q, k, v, (9, 11))
    torch.testing.assert_close(inference, m(q, k, v, (9, 11)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('size', [(64, 64), (72, 104)], ids=['pretrain_map', 'resized'])
@pytest.mark.parametrize('cls', FAMILIES, ids=_ids)
def test_one_image_inference_adds_keys_into_the_resized_encoding(cls, size):
    """With one image, inference adds the keys into the positional encoding resized
    for the call (issue 22: no third token-sized map); the parameter itself, used
    as it is on the pretraining map, is never written."""
    m = _eval_model_with_visible_encodings(cls)
    before = {n: p.clone() for n, p in m.named_parameters()}
    ref = use_flatten_reference(copy.deepcopy(m))
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        outs, refs = m(x), ref(x)
        again = m(x)
    for a, b, c in zip(outs, refs, again):
        assert (a - b).abs().max().item() <= 1e-4
        torch.testing.assert_close(a, c, atol=0, rtol=0)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p, before[n], atol=0, rtol=0, msg=n)
