"""DAT++: neighborhood and deformable attention and the backbone equal to literal
renderings (outputs and gradients), published parameter counts and key names, mixed
precision, any attention per letter, named errors, the published checkpoint layouts."""
import pytest
import torch
import torch.nn as nn

from mmagent.models.backbones.dat import DAT, dat_to_mmpretrain
from mmagent.models.layers import DeformableAttention, NeighborhoodAttention
from mmagent.models.layers.neighborhood_attention import neighborhood_attention
from mmagent.registry import MODELS
from tests import reference_dat as ref

# The authors' classifiers, counted by running their code: 23.96M, 53.13M, 93.69M
# (paper: T 24M, S 53M); without the 1000-class head 23.45M, 52.36M, 92.66M.
AUTHORS_PARAMS = {'tiny': 23_962_876, 'small': 53_127_366, 'base': 93_690_640}


def _small(depths=(2, 2, 2, 2), stage_spec=('ND', 'DN', 'ND', 'DD'), **kw):
    kw.setdefault('drop_path_rate', 0.)
    arch = dict(stem_channels=16, embed_dims=[16, 32, 64, 128], depths=list(depths),
                num_heads=[1, 2, 4, 8], groups=[1, 2, 2, 4], stage_spec=list(stage_spec))
    return DAT(arch=arch, **kw)


def _grads(params):
    return [p.grad.clone() for p in params]


@pytest.mark.parametrize('hw,tile', [((7, 7), 8), ((9, 13), 8), ((20, 17), 8),
                                     ((23, 30), 5), ((11, 40), 16)])
def test_neighborhood_attention_equals_the_per_query_loop(hw, tile):
    torch.manual_seed(0)
    q, k, v = (
        torch.randn(2, 3, *hw, 8, dtype=torch.float64, requires_grad=True)
        for _ in range(3))
    rpb = torch.randn(3, 13, 13, dtype=torch.float64, requires_grad=True)
    out = neighborhood_attention(q, k, v, rpb, 7, tile)
    expected = ref.neighborhood(q, k, v, rpb)
    assert (out - expected).abs().max() < 1e-10
    g = torch.randn_like(out)
    for a, b in zip(
            torch.autograd.grad(out, (q, k, v, rpb), g),
            torch.autograd.grad(expected, (q, k, v, rpb), g)):
        assert (a - b).abs().max() < 1e-10


@pytest.mark.parametrize('hw', [(4, 9), (8, 8), (5, 5)])
def test_neighborhood_module_pads_small_maps_before_qkv(hw):
    torch.manual_seed(0)
    m = NeighborhoodAttention(16, 2).double()
    x = torch.randn(2, 16, *hw, dtype=torch.float64)
    tokens = x.permute(0, 2, 3, 1).flatten(1, 2)
    out = m(tokens, hw).transpose(1, 2).unflatten(2, hw)
    assert (out - ref.neighborhood_attention(m, x)).abs().max() < 1e-10


@pytest.mark.parametrize('hw,stride,groups', [((14, 14), 2, 2), ((9, 13), 4, 1),
                                              ((7, 11), 1, 4)])
def test_deformable_attention_equals_the_written_out_sampling(hw, stride, groups):
    torch.manual_seed(0)
    m = DeformableAttention(32, 4, groups=groups, stride=stride, offset_kernel_size=5,
                            table_size=(7, 7)).double()
    with torch.no_grad():  # offsets large enough to reach the clamp and the border
        m.conv_offset[3].weight.mul_(30)
    x = torch.randn(2, 32, *hw, dtype=torch.float64, requires_grad=True)
    out = m(x.permute(0, 2, 3, 1).flatten(1, 2), hw).transpose(1, 2).unflatten(2, hw)
    expected = ref.deformable_attention(m, x)
    assert (out - expected).abs().max() < 1e-10
    g = torch.randn_like(out)
    params = [x] + list(m.parameters())
    for a, b in zip(
            torch.autograd.grad(out, params, g), torch.autograd.grad(expected, params,
                                                                     g)):
        assert (a - b).abs().max() < 1e-10


@pytest.mark.parametrize('size', [(224, 224), (160, 256), (200, 264)])
def test_backbone_outputs_and_gradients_equal_the_rendering(size):
    torch.manual_seed(0)
    m = _small(depths=(1, 1, 1, 1), stage_spec='NDND').eval()
    x = torch.randn(1, 3, *size, requires_grad=True)
    outs = m(x)
    expected = ref.dat(m, x)
    h, w = -(-size[0] // 4), -(-size[1] // 4)
    for i, (a, b) in enumerate(zip(outs, expected)):
        assert a.shape == (1, 16 * 2**i, h, w)
        assert (a - b).abs().max().item() <= 1e-4
        h, w = -(-h // 2), -(-w // 2)
    params = [x] + list(m.parameters())
    got = torch.autograd.grad(sum((o * o).mean() for o in outs), params)
    want = torch.autograd.grad(sum((o * o).mean() for o in expected), params)
    for a, b in zip(got, want):
        assert (a - b).abs().max().item() <= 1e-4


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_parameter_counts_equal_the_authors(arch):
    m = DAT(arch=arch, out_indices=(3, ))
    c = m.embed_dims[-1]
    assert sum(p.numel() for p in m.parameters()) + c * 1000 + 1000 == \
        AUTHORS_PARAMS[arch]


def test_published_key_names_and_shapes():
    state = DAT(arch='tiny', out_indices=(1, 2, 3)).state_dict()
    shapes = {
        'patch_proj.0.weight': (32, 3, 3, 3),
        'patch_proj.1.norm.weight': (32, ),
        'patch_proj.3.weight': (64, 32, 3, 3),
        'patch_proj.4.norm.bias': (64, ),
        'stages.0.local_perception_units.0.weight': (64, 1, 3, 3),
        'stages.0.layer_norms.3.norm.weight': (64, ),
        'stages.0.mlps.1.linear1.0.weight': (256, 64, 1, 1),
        'stages.0.mlps.1.dwc.weight': (256, 1, 3, 3),
        'stages.0.mlps.1.linear2.0.bias': (64, ),
        'stages.0.attns.0.qkv.weight': (192, 64),
        'stages.0.attns.0.rpb': (2, 13, 13),
        'stages.0.attns.0.proj.bias': (64, ),
        'stages.0.attns.1.conv_offset.0.weight': (64, 1, 9, 9),
        'stages.0.attns.1.conv_offset.1.norm.weight': (64, ),
        'stages.0.attns.1.conv_offset.3.weight': (2, 64, 1, 1),
        'stages.0.attns.1.proj_q.weight': (64, 64, 1, 1),
        'stages.0.attns.1.rpe_table': (2, 111, 111),
        'stages.2.attns.17.conv_offset.0.weight': (64, 1, 5, 5),
        'stages.2.attns.17.rpe_table': (8, 27, 27),
        'stages.3.attns.1.proj_out.weight': (512, 512, 1, 1),
        'stages.3.attns.1.rpe_table': (16, 13, 13),
        'down_projs.2.0.weight': (512, 256, 3, 3),
        'down_projs.2.1.norm.bias': (512, ),
        'norms.1.norm.weight': (128, ),
        'norms.3.norm.bias': (512, )
    }
    for k, shape in shapes.items():
        assert tuple(state[k].shape) == shape, k
    assert 'down_projs.0.0.bias' not in state and not any(
        k.startswith('norms.0') for k in state)
    assert not [
        k for k in state
        if k.split('.')[0] not in ('patch_proj', 'stages', 'down_projs', 'norms')
    ]


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_stays_finite_and_close(dtype):
    torch.manual_seed(0)
    m = _small().eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        full = m(x)
        with torch.autocast('cpu', dtype=dtype):
            half = m(x)
    for a, b in zip(full, half):
        assert torch.isfinite(b).all()
        assert (a - b.float()).abs().max() < 0.25


def test_training_knobs_and_any_attention_per_letter():
    torch.manual_seed(0)
    m = _small(
        drop_path_rate=0.1, with_cp=True, frozen_stages=1, out_indices=(1, 3),
        attn_cfgs=dict(S=dict(type='mmagent.NeighborhoodAttention', kernel_size=3)),
        stage_spec=['ND', 'SD', 'NS', 'DD']).train()
    assert isinstance(m.stages[1].attns[0], NeighborhoodAttention)
    assert m.stages[1].attns[0].kernel_size == 3
    outs = m(torch.randn(2, 3, 64, 96))
    assert [o.shape[1] for o in outs] == [32, 128]
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is None for p in m.patch_proj.parameters())
    assert all(p.grad is None for p in m.stages[0].parameters())
    assert all(p.grad is not None for p in m.stages[2].parameters())
    assert not m.stages[0].training and m.stages[2].training


@MODELS.register_module()
class _TestIdentityAttention(nn.Module):

    def __init__(self, embed_dims, num_heads, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x, hw_shape):
        return self.proj(x)


def test_a_users_registered_attention_plugs_in():
    m = _small(attn_cfgs=dict(D=dict(type='mmagent._TestIdentityAttention')))
    assert isinstance(m.stages[3].attns[1], _TestIdentityAttention)
    assert m(torch.randn(1, 3, 64, 64))[3].shape == (1, 128, 2, 2)


@pytest.mark.parametrize('kwargs,match', [
    (dict(stage_spec=['N', 'ND', 'ND', 'DD']), r'stage_spec\[0\] has 1 letters'),
    (dict(stage_spec=['NX', 'ND', 'ND', 'DD']), r"letters \['X'\] name no attention"),
    (dict(strides=(8, 4, 2)), 'strides must have one entry per stage'),
    (dict(arch='huge'), 'unknown arch'),
])
def test_bad_settings_raise_named_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DAT(**kwargs) if 'arch' in kwargs else _small(**kwargs)


def test_too_small_input_raises_a_clear_error():
    with pytest.raises(ValueError, match='DeformableAttention needs maps of at least'):
        _small()(torch.randn(1, 3, 32, 64))


def test_imagenet_weights_map_onto_mmpretrain_and_backbone_keys(tmp_path):
    """The authors' classifier keys (cls_norm, cls_head) convert with the zoo's timm
    path to an mmpretrain ImageClassifier; a backbone loads the same file ignoring the
    classifier and starting the output norms fresh."""
    from mmagent import zoo
    torch.manual_seed(0)
    src = _small(out_indices=(3, ))
    state = {k: v for k, v in src.state_dict().items() if not k.startswith('norms.')}
    state.update({
        'cls_norm.norm.weight': torch.rand(128),
        'cls_norm.norm.bias': torch.rand(128),
        'cls_head.weight': torch.randn(1000, 128),
        'cls_head.bias': torch.randn(1000)
    })
    torch.save({
        'model': state,
        'epoch': 299,
        'max_accuracy': 83.9
    }, tmp_path / 'in1k.pth')
    out = zoo.convert_file(
        str(tmp_path / 'in1k.pth'), str(tmp_path / 'cls.pth'), 'timm',
        target='mmpretrain', family='DAT')
    converted = torch.load(out, weights_only=True)['state_dict']
    assert converted.keys() == dat_to_mmpretrain(state).keys()
    assert set(converted) == {f'backbone.{k}'
                              for k in src.state_dict()
                              } | {'head.fc.weight', 'head.fc.bias'}
    assert torch.equal(converted['backbone.norms.3.norm.weight'],
                       state['cls_norm.norm.weight'])
    det = _small()
    missing, ignored = det.load_pretrained(str(tmp_path / 'in1k.pth'))
    assert missing == [] and sorted(ignored) == sorted(
        k for k in state if k.startswith(('cls_norm', 'cls_head')))
    assert torch.equal(det.stages[2].attns[1].rpe_table, src.stages[2].attns[1].rpe_table)
