"""MLLA: equal to a literal rendering, shapes at any size, the training knobs, published
weights, mixed precision, named errors."""
import copy

import pytest
import torch

from mmagent.models import MLLA
from mmagent.testing import published_classification_state
from tests.reference_mlla import use_mlla_reference

# The authors' ImageNet classifiers (counted by running their code): 24.39M, 43.02M and
# 95.98M parameters; the paper rounds them to 25M, 43M and 96M.
AUTHORS_PARAMS = {'tiny': 24_392_200, 'small': 43_015_048, 'base': 95_983_960}
PUBLISHED_M = {'tiny': 25, 'small': 43, 'base': 96}


def _tiny(**kw):
    kw.setdefault('drop_path_rate', 0.)
    return MLLA(
        arch=dict(embed_dims=32, depths=[1, 2, 1, 1], num_heads=[1, 2, 4, 8],
                  mlp_ratio=2.), **kw)


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_parameter_count_equals_the_authors_classifier(arch):
    m = MLLA(arch=arch)
    n = sum(p.numel() for p in m.parameters())
    c = m.embed_dims[-1]
    n -= sum(p.numel() for i in range(3) for p in getattr(m, f'norm{i}').parameters())
    n += c * 1000 + 1000  # the classifier's head; its final norm is our norm3
    assert abs(n - AUTHORS_PARAMS[arch]) <= 1000
    assert abs(n / 1e6 - PUBLISHED_M[arch]) < 1


@pytest.mark.parametrize('size', [(64, 64), (67, 93), (37, 150), (9, 13)])
def test_equals_reference_rendering_and_shapes(size):
    torch.manual_seed(0)
    m = _tiny().eval()
    ref = use_mlla_reference(copy.deepcopy(m))
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        outs, refs = m(x), ref(x)
    h, w = -(-size[0] // 4), -(-size[1] // 4)
    for i, (a, b) in enumerate(zip(outs, refs)):
        assert a.shape == (2, 32 * 2**i, h, w)
        assert (a - b).abs().max().item() <= 1e-4
        h, w = -(-h // 2), -(-w // 2)


def test_gradients_equal_the_reference_and_reach_every_parameter():
    torch.manual_seed(0)
    m = _tiny().train()
    ref = use_mlla_reference(copy.deepcopy(m))
    x = torch.randn(2, 3, 48, 80)
    for model in (m, ref):
        sum((o * o).mean() for o in model(x)).backward()
    for (name, p), q in zip(m.named_parameters(), ref.parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-3, msg=name)


def test_batch_equals_each_image_alone():
    torch.manual_seed(0)
    m = _tiny().eval()
    x = torch.randn(3, 3, 40, 56)
    with torch.no_grad():
        batched = m(x)
        alone = [m(x[i:i + 1]) for i in range(3)]
    for level, out in enumerate(batched):
        for i in range(3):
            torch.testing.assert_close(out[i:i + 1], alone[i][level], atol=1e-5,
                                       rtol=1e-5)


def test_frozen_stages_and_norm_eval():
    m = _tiny(frozen_stages=1, norm_eval=True).train()
    frozen = {n for n, p in m.named_parameters() if not p.requires_grad}
    assert frozen and all(
        n.startswith(('patch_embed', 'layers.0', 'norm0')) for n in frozen)
    assert not m.patch_embed.training
    bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert bns and all(not bn.training for bn in bns)  # norm_eval: every BN
    before = [bn.running_mean.clone() for bn in bns]
    m(torch.randn(2, 3, 32, 32))
    assert all(torch.equal(a, bn.running_mean) for a, bn in zip(before, bns))
    plain = _tiny().train()
    assert any(mod.training for mod in plain.modules()
               if isinstance(mod, torch.nn.BatchNorm2d))


def test_with_cp_matches_plain():
    torch.manual_seed(0)
    plain = _tiny().train()
    ckpt = _tiny(with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 48, 48)
    outs = [m(x) for m in (plain, ckpt)]
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    for m, o in zip((plain, ckpt), outs):
        sum(t.square().mean() for t in o).backward()
    for (n, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=n)


def _kept_bytes(fn):
    """Bytes of the non-parameter storages autograd keeps for backward of ``fn()``."""
    storages = {}

    def pack(t):
        if not isinstance(t, torch.nn.Parameter):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(storages.values()), out


def test_stem_and_merges_recompute_in_backward_updating_batchnorm_once(monkeypatch):
    """The stem and the merges keep only their input for backward (issue 22: MLLA-T's
    training memory); the recompute leaves the running statistics as the first run
    set them, and outputs, gradients and statistics equal the maps kept."""
    from mmagent.models.hosts import mlla as host
    torch.manual_seed(0)
    m = _tiny().train()
    kept_map = copy.deepcopy(m)
    x = torch.randn(2, 3, 64, 80)
    kept_recompute, outs = _kept_bytes(lambda: m(x))
    with monkeypatch.context() as patch:
        patch.setattr(host, 'recompute_conv_layers', lambda fn, module, t: fn(t, True))
        kept_plain, refs = _kept_bytes(lambda: kept_map(x))
        stem_plain, _ = _kept_bytes(lambda: copy.deepcopy(m).patch_embed(x))
    stem_recompute, _ = _kept_bytes(lambda: copy.deepcopy(m).patch_embed(x))
    assert stem_recompute <= x.numel() * 4 < stem_plain / 10
    assert kept_recompute < 0.8 * kept_plain
    for a, b in zip(outs, refs):
        torch.testing.assert_close(a, b)
    for model, o in ((m, outs), (kept_map, refs)):
        sum(t.square().mean() for t in o).backward()
    for (n, a), b in zip(m.named_parameters(), kept_map.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=n)
    bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert bns and all(mod.num_batches_tracked.item() == 1 for mod in bns)
    for (n, a), b in zip(m.named_buffers(), kept_map.buffers()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=n)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_mixed_precision_forward_and_backward_stay_finite(dtype):
    torch.manual_seed(0)
    m = _tiny().train()
    x = torch.randn(2, 3, 64, 96)
    with torch.autocast('cpu', dtype=dtype):
        outs = m(x)
        loss = sum(o.float().square().mean() for o in outs)
    loss.backward()
    assert all(torch.isfinite(o).all() for o in outs)
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    with torch.no_grad():
        ref = m.eval()(x)
        with torch.autocast('cpu', dtype=dtype):
            low = m(x)
    for a, b in zip(low, ref):
        torch.testing.assert_close(a.float(), b, atol=0.15, rtol=0.1)


def test_published_imagenet_checkpoint_loads_with_no_missing_keys(tmp_path):
    torch.manual_seed(0)
    src = MLLA(arch='tiny')
    state = published_classification_state(src)
    assert any(k.endswith('attn.rope.rotations') for k in state)  # as published
    torch.save({'model': state}, tmp_path / 'mlla_t.pth')
    dst = MLLA(arch='tiny')
    missing, ignored = dst.load_pretrained(str(tmp_path / 'mlla_t.pth'))
    assert missing == []
    assert {'head.weight', 'head.bias', 'norm.weight', 'norm.bias'} <= set(ignored)
    for k, v in src.state_dict().items():
        if not k.startswith(('norm0', 'norm1', 'norm2', 'norm3')):
            torch.testing.assert_close(dst.state_dict()[k], v, msg=k)


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='huge'), 'unknown arch'),
    (dict(embed_dims=60), 'embed_dims'),
    (dict(depths=[2, 4, 8]), 'depths'),
    (dict(num_heads=[3, 4, 8, 16]), 'num_heads'),
    (dict(mlp_ratio=-1), 'mlp_ratio'),
    (dict(out_indices=(4, )), 'out_indices'),
    (dict(frozen_stages=5), 'frozen_stages'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLLA(**kwargs)


def test_flops_of_the_published_detector_and_segmentor():
    import os.path as osp
    import sys

    from tests.conftest import ROOT
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    from get_flops import analyse
    r = analyse(osp.join(ROOT, 'configs', 'maskrcnn_mlla_t.py'), 800, 1280)
    assert abs(r['flops'] / 1e9 - 255) / 255 < 0.05  # model_zoo.md: 255G
