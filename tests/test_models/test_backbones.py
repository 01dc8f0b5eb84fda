import math

import pytest
import torch

from mmagent.models import AgentAttention, AgentPVT, AgentSwinTransformer
from mmagent.testing import published_classification_state

# Published ImageNet parameter counts (model_zoo.md), classifier included.
PUBLISHED_PARAMS_M = {
    (AgentPVT, 'tiny'): 11.6,
    (AgentPVT, 'small'): 20.6,
    (AgentPVT, 'medium'): 35.9,
    (AgentPVT, 'large'): 48.7,
    (AgentSwinTransformer, 'tiny'): 29,
    (AgentSwinTransformer, 'small'): 50,
    (AgentSwinTransformer, 'base'): 88,
}
PRESETS = list(PUBLISHED_PARAMS_M)


def _ids(p):
    return f'{p[0].__name__}-{p[1]}'


def _expected_hw(cls, h, w):
    """Stride-4/8/16/32 map sizes: PVT's convs floor, Swin pads then halves (ceil)."""
    if cls is AgentPVT:
        h, w = h // 4, w // 4
        sizes = [(h, w)]
        for _ in range(3):
            h, w = h // 2, w // 2
            sizes.append((h, w))
        return sizes
    h, w = math.ceil(h / 4), math.ceil(w / 4)
    sizes = [(h, w)]
    for _ in range(3):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.append((h, w))
    return sizes


@pytest.mark.parametrize('preset', PRESETS, ids=_ids)
def test_parameter_count_matches_published(preset):
    cls, arch = preset
    m = cls(arch=arch)
    n = sum(p.numel() for p in m.parameters())
    c = m.embed_dims[-1]
    if cls is AgentSwinTransformer:  # per-stage output norms are downstream-only
        n -= sum(p.numel() for i in range(4) for p in getattr(m, f'norm{i}').parameters())
        n += 2 * c  # the classifier's final norm
    n += c * 1000 + 1000  # the 1000-class head
    published = PUBLISHED_PARAMS_M[preset]
    digits = 1 if cls is AgentPVT else 0  # the precision model_zoo.md gives
    assert round(n / 1e6, digits) == published


@pytest.mark.parametrize('preset', PRESETS, ids=_ids)
@pytest.mark.parametrize('size', [(64, 64), (97, 61), (33, 130)])
def test_output_shapes_every_preset(preset, size):
    cls, arch = preset
    m = cls(arch=arch, drop_path_rate=0.).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, *size))
    assert len(outs) == 4
    for out, c, hw in zip(outs, m.embed_dims, _expected_hw(cls, *size)):
        assert tuple(out.shape) == (1, c, *hw)
        assert torch.isfinite(out).all()


def test_swin_accepts_inputs_smaller_than_a_window():
    m = AgentSwinTransformer(arch='tiny', out_indices=(3, )).eval()
    with torch.no_grad():
        (out, ) = m(torch.randn(2, 3, 9, 13))
    assert out.shape == (2, 768, 1, 1)


def test_pvt_too_small_input_is_a_clear_error():
    m = AgentPVT(arch='tiny').eval()
    with pytest.raises(ValueError, match='at least 32'):
        m(torch.randn(1, 3, 20, 64))


@pytest.mark.parametrize('cls', [AgentPVT, AgentSwinTransformer])
def test_batch_equals_each_image_alone(cls):
    torch.manual_seed(0)
    m = cls(arch='tiny').eval()
    x = torch.randn(3, 3, 72, 104)
    with torch.no_grad():
        batched = m(x)
        alone = [m(x[i:i + 1]) for i in range(3)]
    for level, out in enumerate(batched):
        for i in range(3):
            torch.testing.assert_close(out[i:i + 1], alone[i][level], atol=1e-5,
                                       rtol=1e-5)


@pytest.mark.parametrize('cls', [AgentPVT, AgentSwinTransformer])
def test_gradients_reach_every_parameter(cls):
    kw = dict(attn_type='AAMB1') if cls is AgentSwinTransformer else dict(
        attn_type='AABM1')
    m = cls(arch='tiny', drop_path_rate=0., **kw).train()
    outs = m(torch.randn(2, 3, 64, 96))
    sum(o.mean() for o in outs).backward()
    no_grad = [
        n for n, p in m.named_parameters() if p.grad is None or p.grad.abs().sum() == 0
    ]
    assert no_grad == []
    assert any(n.endswith('an_bias') for n, _ in m.named_parameters())


@pytest.mark.parametrize('cls', [AgentPVT, AgentSwinTransformer])
def test_frozen_stages(cls):
    m = cls(arch='tiny', frozen_stages=2)
    m.train()
    frozen, trainable = set(), set()
    for n, p in m.named_parameters():
        (trainable if p.requires_grad else frozen).add(n)
    if cls is AgentPVT:
        frozen_prefixes = ('patch_embed1', 'pos_embed1', 'block1', 'patch_embed2',
                           'pos_embed2', 'block2')
        assert getattr(m, 'block1').training is False and m.block3.training
    else:
        frozen_prefixes = ('patch_embed', 'layers.0', 'layers.1', 'norm0', 'norm1')
        assert m.layers[1].training is False and m.layers[2].training
    for n in frozen:
        assert n.startswith(frozen_prefixes), n
    for n in trainable:
        assert not n.startswith(frozen_prefixes), n
    assert frozen and trainable
    # A training step leaves the frozen weights untouched.
    before = {n: p.detach().clone() for n, p in m.named_parameters() if n in frozen}
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    sum(o.mean() for o in m(torch.randn(1, 3, 64, 64))).backward()
    opt.step()
    for n, p in m.named_parameters():
        if n in frozen:
            assert torch.equal(p, before[n]), n


@pytest.mark.parametrize('cls', [AgentPVT, AgentSwinTransformer])
def test_with_cp_matches_plain(cls):
    torch.manual_seed(0)
    plain = cls(arch='tiny', drop_path_rate=0.).train()
    ckpt = cls(arch='tiny', drop_path_rate=0., with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 80)
    outs = [m(x) for m in (plain, ckpt)]
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    for m, o in zip((plain, ckpt), outs):
        sum(t.square().mean() for t in o).backward()
    for (n, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=n)


@pytest.mark.parametrize('cls,layout', [(AgentPVT, 'model'), (AgentPVT, 'top'),
                                        (AgentSwinTransformer, 'state_dict')])
def test_published_classification_checkpoint_round_trips(cls, layout, tmp_path, caplog):
    torch.manual_seed(1)
    src = cls(arch='tiny')
    state = published_classification_state(src)
    ckpt = {
        'model': state
    } if layout == 'model' else ({
        'state_dict': state
    } if layout == 'state_dict' else state)
    path = tmp_path / 'published.pth'
    torch.save(ckpt, path)

    dst = cls(arch='tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    missing, ignored = dst.load_pretrained(str(path))
    assert missing == []
    assert 'head.weight' in ignored and 'head.bias' in ignored
    dst.init_weights()  # the path mmengine takes
    for k, v in src.state_dict().items():
        if k.split('.')[0] in ('norm0', 'norm1', 'norm2', 'norm3'):
            continue
        torch.testing.assert_close(dst.state_dict()[k], v, msg=k)


def test_shape_mismatch_names_key_and_shapes(tmp_path):
    state = published_classification_state(AgentPVT(arch='tiny'))
    state['block1.0.attn.an_bias'] = torch.zeros(1, 4, 7, 7)
    torch.save({'model': state}, tmp_path / 'bad.pth')
    m = AgentPVT(arch='tiny')
    with pytest.raises(
            ValueError, match=r'block1\.0\.attn\.an_bias.*\(1, 4, 7, 7\).*'
            r'\(1, 9, 7, 7\)'):
        m.load_pretrained(str(tmp_path / 'bad.pth'))


def test_detector_checkpoint_backbone_prefix_is_stripped(tmp_path):
    src = AgentSwinTransformer(arch='tiny')
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    state['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    torch.save({'state_dict': state, 'meta': {}}, tmp_path / 'det.pth')
    dst = AgentSwinTransformer(arch='tiny')
    missing, _ = dst.load_pretrained(str(tmp_path / 'det.pth'))
    assert missing == []
    torch.testing.assert_close(dst.norm0.weight, src.norm0.weight)


@pytest.mark.parametrize('cls,kwargs,match', [
    (AgentPVT, dict(arch='huge'), 'unknown arch'),
    (AgentSwinTransformer, dict(arch='large'), 'unknown arch'),
    (AgentPVT, dict(depths=[2, 2, 2]), 'depths'),
    (AgentSwinTransformer, dict(num_heads=[3, 6, 12]), 'num_heads'),
    (AgentPVT, dict(attn_type='AAAC'), 'attn_type'),
    (AgentSwinTransformer, dict(attn_type='AAB'), 'attn_type'),
    (AgentSwinTransformer, dict(attn_type='AAMB'), 'attn_type'),
    (AgentPVT, dict(agent_num=[9, 16, 50, 49]), 'agent_num'),
    (AgentSwinTransformer, dict(agent_num=[8, 16, 49, 49]), 'agent_num'),
    (AgentPVT, dict(downstream_agent_shapes=[(12, 12), (16, 16), (28, ), (28, 28)]),
     r'downstream_agent_shapes\[2\]'),
    (AgentSwinTransformer,
     dict(downstream_agent_shapes=[(9, 9), (12, -1), (14, 14), (7, 7)]),
     r'downstream_agent_shapes\[1\]'),
    (AgentSwinTransformer, dict(downstream_agent_shapes=[(9, 9)]),
     'downstream_agent_shapes'),
    (AgentPVT, dict(embed_dims=[64, 128, 320, 500]), 'embed_dims'),
    (AgentSwinTransformer, dict(embed_dims=100), 'embed_dims'),
    (AgentPVT, dict(out_indices=(0, 4)), 'out_indices'),
    (AgentPVT, dict(frozen_stages=7), 'frozen_stages'),
    (AgentSwinTransformer, dict(arch=dict(embed_dims=96, depths=[2, 2, 2, 2], bogus=1)),
     'unknown keys'),
])
def test_bad_configuration_is_named(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_presets_reproduce_published_geometry():
    b = AgentSwinTransformer(arch='base')
    kinds = [['A' if isinstance(blk.attn, AgentAttention) else 'B' for blk in s.blocks]
             for s in b.layers]
    assert kinds == [['A'] * 2, ['A'] * 2, ['A'] * 2 + ['B'] * 16, ['B'] * 2]
    shifts = [getattr(blk.attn, 'shift_size', 0) for blk in b.layers[2].blocks]
    assert shifts[:4] == [0, 0, 0, 3]  # agent blocks never shift; odd window blocks do
    assert b.layers[0].blocks[0].attn.agent_shape == (9, 9)
    assert b.layers[0].blocks[0].attn.ah_bias.shape == (1, 4, 9, 56, 1)
    s = AgentSwinTransformer(arch='small')
    assert [isinstance(s.layers[i].blocks[0].attn, AgentAttention) for i in range(4)] == \
        [True, True, False, False]
    p = AgentPVT(arch='medium', downstream_agent_shapes=[(3, 3), (4, 4), (7, 7), (7, 7)])
    assert p.depths == [3, 4, 18, 3]
    assert p.block3[0].attn.agent_shape == (7, 7)
    assert p.block4[0].attn.ha_bias.shape == (1, 8, 7, 1, 49)
    assert p.pos_embed2.shape == (1, 28 * 28, 128)
