"""Agent-CSwin and Agent-DeiT: equal to literal renderings, shapes at odd sizes, the
training knobs, published weights, mixed precision, named errors. (Their classifiers'
logits against the published classifiers: tests/test_classification.py.)"""
import copy
import math

import pytest
import torch

from mmagent.models import AgentCSWin, AgentDeiT
from mmagent.testing import published_classification_state
from tests.reference_cswin import use_cswin_reference

# The authors' ImageNet classifiers, counted by running their code: Agent-CSwin
# 20.46M / 32.81M / 73.25M (published 21M, 33M, 73M), Agent-DeiT 6.02M / 22.65M /
# 87.20M (published 6.0M, 22.7M, 87.2M).
AUTHORS_M = {
    (AgentCSWin, 'tiny'): 20.46,
    (AgentCSWin, 'small'): 32.81,
    (AgentCSWin, 'base'): 73.25,
    (AgentDeiT, 'tiny'): 6.02,
    (AgentDeiT, 'small'): 22.65,
    (AgentDeiT, 'base'): 87.20
}


def _cswin(**kw):
    """A small Agent-CSwin whose CSwin stages have stripes of 3 (padding on odd maps)
    and whose agent stages resize their biases (sized for a 64 px pretraining)."""
    kw.setdefault('drop_path_rate', 0.)
    return AgentCSWin(
        arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[2, 2, 4, 4],
                  mlp_ratio=2.), pretrain_img_size=64, split_size=(1, 2, 3, 3),
        agent_num=(4, 9, 4, 4), **kw)


def _deit(**kw):
    kw.setdefault('drop_path_rate', 0.)
    return AgentDeiT(
        arch=dict(embed_dims=48, depth=4, num_heads=3, agent_layer=2, agent_num=9,
                  mlp_ratio=2.), img_size=96, **kw)


@pytest.mark.parametrize('cls,arch', list(AUTHORS_M),
                         ids=lambda p: getattr(p, '__name__', p))
def test_parameter_count_equals_the_authors_classifier(cls, arch):
    m = cls(arch=arch)
    n = sum(p.numel() for p in m.parameters())
    if cls is AgentCSWin:
        c = m.embed_dims[-1]  # the classifier's final norm is our norm3
        n -= sum(p.numel() for i in range(3) for p in getattr(m, f'norm{i}').parameters())
    else:
        c = m.embed_dims
    n += c * 1000 + 1000  # the head
    assert abs(n / 1e6 - AUTHORS_M[(cls, arch)]) < 0.01


@pytest.mark.parametrize('size', [(64, 64), (71, 45), (37, 150)])
@pytest.mark.parametrize('attn_type', ['AABB', 'BBAA'])
def test_cswin_equals_reference_rendering_and_shapes(size, attn_type):
    torch.manual_seed(0)
    m = _cswin(attn_type=attn_type).eval()
    ref = use_cswin_reference(copy.deepcopy(m))
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        outs, refs = m(x), ref(x)
    h, w = (size[0] - 3) // 4 + 1, (size[1] - 3) // 4 + 1  # the 7x7 stride-4 stem, pad 2
    for i, (a, b) in enumerate(zip(outs, refs)):
        assert a.shape == (2, 16 * 2**i, h, w)
        assert (a - b).abs().max().item() <= 1e-4
        h, w = -(-h // 2), -(-w // 2)


def test_cswin_gradients_equal_the_reference_and_reach_every_parameter():
    torch.manual_seed(0)
    m = _cswin().train()
    ref = use_cswin_reference(copy.deepcopy(m))
    x = torch.randn(2, 3, 52, 76)
    for model in (m, ref):
        sum((o * o).mean() for o in model(x)).backward()
    for (name, p), q in zip(m.named_parameters(), ref.parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-3, msg=name)


def test_cswin_padding_is_masked_and_batch_equals_each_image_alone():
    torch.manual_seed(0)
    m = _cswin().eval()
    x = torch.randn(3, 3, 58, 90)
    with torch.no_grad():
        batched = m(x)
        alone = [m(x[i:i + 1]) for i in range(3)]
    for level, out in enumerate(batched):
        for i in range(3):
            torch.testing.assert_close(out[i:i + 1], alone[i][level], atol=1e-5,
                                       rtol=1e-5)


def test_cswin_frozen_stages_and_with_cp():
    m = _cswin(frozen_stages=2).train()
    frozen = {n for n, p in m.named_parameters() if not p.requires_grad}
    prefixes = ('stage1_conv_embed', 'stage1.', 'merge1', 'stage2.', 'norm0', 'norm1')
    assert frozen == {n for n, _ in m.named_parameters() if n.startswith(prefixes)}
    assert not m.stage2.training and m.stage3.training
    torch.manual_seed(0)
    plain, ckpt = _cswin().train(), _cswin(with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 48, 64)
    outs = [model(x) for model in (plain, ckpt)]
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    for o in outs:
        sum(t.square().mean() for t in o).backward()
    for (n, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=n)


@pytest.mark.parametrize('make,size', [(_cswin, (64, 96)), (_deit, (96, 96))],
                         ids=['AgentCSWin', 'AgentDeiT'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_mixed_precision_forward_and_backward_stay_finite(make, size, dtype):
    torch.manual_seed(0)
    m = make().train()
    x = torch.randn(2, 3, *size)
    with torch.autocast('cpu', dtype=dtype):
        outs = m(x)
        loss = sum(o.float().square().mean() for o in outs)
    loss.backward()
    assert all(torch.isfinite(o).all() for o in outs)
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


@pytest.mark.parametrize('cls', [AgentCSWin, AgentDeiT])
def test_published_imagenet_checkpoint_loads_with_no_missing_keys(cls, tmp_path):
    torch.manual_seed(0)
    src = cls(arch='tiny')
    state = published_classification_state(src)
    torch.save({'model': state}, tmp_path / 'in1k.pth')
    dst = cls(arch='tiny')
    missing, ignored = dst.load_pretrained(str(tmp_path / 'in1k.pth'))
    assert missing == []
    assert {'head.weight', 'head.bias'} <= set(ignored)
    assert ('norm.weight' in ignored) == (cls is AgentCSWin)  # DeiT's norm is its own
    for k, v in src.state_dict().items():
        if not k.startswith(('norm0', 'norm1', 'norm2', 'norm3')):
            torch.testing.assert_close(dst.state_dict()[k], v, msg=k)


def test_deit_other_sizes_resize_the_position_embedding():
    torch.manual_seed(0)
    m = _deit(out_indices=(1, 3)).eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        at_size = m(x)
        # the same image as a 64x128 crop-and-pad: another patch map, still works
        other = m(torch.randn(2, 3, 64, 128))
    assert [o.shape for o in at_size] == [(2, 48), (2, 48)]
    assert [o.shape for o in other] == [(2, 48), (2, 48)]
    pos = m.position_embedding((4, 8))
    assert pos.shape == (1, 33, 48)
    torch.testing.assert_close(m.position_embedding((6, 6)), m.pos_embed)


def test_deit_class_token_biases_matter_and_frozen_blocks():
    torch.manual_seed(0)
    m = _deit().eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        before = m(x)[0]
        m.blocks[0].attn.ca_bias.normal_(0, 1.0)  # (a constant would cancel in softmax)
        assert (m(x)[0] - before).abs().max() > 1e-3
    m = _deit(frozen_stages=2).train()
    frozen = {n for n, p in m.named_parameters() if not p.requires_grad}
    assert frozen == {
        n
        for n, _ in m.named_parameters()
        if n.startswith(('patch_embed', 'cls_token', 'pos_embed', 'blocks.0.',
                         'blocks.1.'))
    }
    assert math.isclose(
        sum(p.numel() for p in m.parameters() if p.requires_grad),
        sum(p.numel() for n, p in m.named_parameters()
            if n.startswith(('blocks.2.', 'blocks.3.', 'norm.'))))


@pytest.mark.parametrize('cls,kwargs,match', [
    (AgentCSWin, dict(arch='huge'), 'unknown arch'),
    (AgentCSWin, dict(depths=[2, 4, 18]), 'depths'),
    (AgentCSWin, dict(split_size=(1, 2, 7)), 'split_size'),
    (AgentCSWin, dict(agent_num=(9, 16, 50, 49)), 'agent_num'),
    (AgentCSWin, dict(attn_type='AAB'), 'attn_type'),
    (AgentCSWin, dict(num_heads=[2, 4, 7, 16]), 'num_heads'),
    (AgentCSWin, dict(arch='base', attn_type='BBBB', num_heads=[3, 8, 16, 32]), 'even'),
    (AgentCSWin, dict(pretrain_img_size=16), 'pretrain_img_size'),
    (AgentCSWin, dict(downstream_agent_shapes=[(3, 3)]), 'downstream_agent_shapes'),
    (AgentDeiT, dict(arch='huge'), 'unknown arch'),
    (AgentDeiT, dict(embed_dims=100), 'embed_dims'),
    (AgentDeiT, dict(agent_num=50), 'agent_num'),
    (AgentDeiT, dict(img_size=230), 'img_size'),
    (AgentDeiT, dict(out_indices=(12, )), 'out_indices'),
    (AgentDeiT, dict(frozen_stages=13), 'frozen_stages'),
])
def test_bad_arguments_are_named(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize('name,published', [('agent_cswin_t_in1k', 4.3),
                                            ('agent_deit_t_in1k', 1.2)])
def test_flops_of_the_published_classifiers(name, published):
    import os.path as osp
    import sys

    from tests.conftest import ROOT
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    from get_flops import analyse
    r = analyse(osp.join(ROOT, 'configs', 'classification', f'{name}.py'), 224, 224)
    assert abs(r['flops'] / 1e9 - published) < 0.05  # model_zoo.md, one decimal


def test_deit_input_smaller_than_a_patch_is_a_clear_error():
    with pytest.raises(ValueError, match='smaller than one 16-pixel patch'):
        _deit()(torch.randn(1, 3, 8, 64))
