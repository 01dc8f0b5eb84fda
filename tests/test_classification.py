"""MMPretrain for real: the published ImageNet classifiers built from
configs/classification, their weights fetched by name, and the logits of a literal
rendering of the published classifier (tests/reference_classifiers.py) on the same
weights; the model hub names; the inferencer."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmagent.models.layers.agent_attention import AgentAttentionCore
from mmagent.testing import published_classification_state
from tests.conftest import ROOT
from tests.reference_classifiers import (agent_cswin_logits, agent_deit_logits,
                                         agent_pvt_logits, agent_swin_logits,
                                         flatten_cswin_logits, flatten_pvt_logits,
                                         flatten_pvt_v2_logits, flatten_swin_logits)


def mlla_logits(sd, x, arch):
    """MLLA's classifier: the backbone with the literal rendering of its attention
    (tests/reference_mlla.py), the final LayerNorm, mean pooling and the head."""
    import torch.nn.functional as F

    from mmagent.models import MLLA
    from tests.reference_mlla import use_mlla_reference
    m = MLLA(arch=arch, out_indices=(3, ), drop_path_rate=0.).eval()
    own = {
        k: v
        for k, v in sd.items()
        if k.split('.')[0] in ('patch_embed',
                               'layers') and not k.endswith('rope.rotations')
    }
    own.update({'norm3.weight': sd['norm.weight'], 'norm3.bias': sd['norm.bias']})
    m.load_state_dict(own)
    (feat, ) = use_mlla_reference(m)(x)
    return F.linear(feat.mean((2, 3)), sd['head.weight'], sd['head.bias'])


# zoo name, collection, reference classifier, input size
CASES = [
    ('agent_pvt_t_in1k', 'Agent-PVT', lambda sd, x: agent_pvt_logits(sd, x, [2, 2, 2, 2]),
     224),
    ('agent_swin_t_in1k', 'Agent-Swin',
     lambda sd, x: agent_swin_logits(sd, x, [2, 2, 6, 2], [3, 6, 12, 24], 'AAAB'), 224),
    ('agent_swin_s_288_in1k', 'Agent-Swin', lambda sd, x: agent_swin_logits(
        sd, x, [2, 2, 18, 2], [3, 6, 12, 24], 'AABB', window=9), 288),
    ('mlla_t_in1k', 'MLLA', lambda sd, x: mlla_logits(sd, x, 'tiny'), 224),
    ('agent_cswin_t_in1k', 'Agent-CSwin',
     lambda sd, x: agent_cswin_logits(sd, x, [2, 4, 18, 1], [2, 4, 8, 16]), 224),
    ('agent_cswin_b_384_in1k', 'Agent-CSwin', lambda sd, x: agent_cswin_logits(
        sd, x, [3, 6, 29, 2], [4, 8, 16, 32], split=(1, 2, 12, 12)), 384),
    ('agent_deit_t_in1k', 'Agent-DeiT',
     lambda sd, x: agent_deit_logits(sd, x, 12, 3, agent_layer=12, agent_num=49), 224),
    ('agent_deit_b_in1k', 'Agent-DeiT',
     lambda sd, x: agent_deit_logits(sd, x, 12, 12, agent_layer=4, agent_num=81), 224),
    ('agent_deit_s_448_in1k', 'Agent-DeiT',
     lambda sd, x: agent_deit_logits(sd, x, 12, 6, agent_layer=12, agent_num=49), 448),
    ('flatten_pvt_t_in1k', 'FLatten',
     lambda sd, x: flatten_pvt_logits(sd, x, [2, 2, 2, 2]), 224),
    ('flatten_pvt_v2_b0_in1k', 'FLatten',
     lambda sd, x: flatten_pvt_v2_logits(sd, x, [2, 2, 2, 2]), 224),
    ('flatten_swin_t_in1k', 'FLatten',
     lambda sd, x: flatten_swin_logits(sd, x, [2, 2, 6, 2], [3, 6, 12, 24]), 224),
    ('flatten_cswin_t_in1k', 'FLatten',
     lambda sd, x: flatten_cswin_logits(sd, x, [2, 4, 18, 1], [2, 4, 8, 16]), 224),
]


def classifier_config(name):
    """The index's ``Config`` of a classifier: the zoo asks its backbone type how the
    published keys map."""
    return f'configs/classification/{name}.py'


def build_classifier(name, **backbone):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'classification', f'{name}.py'))
    cfg.model.backbone.update(backbone)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


def published_weights(classifier):
    """A published-layout ImageNet state dict for ``classifier``'s backbone, with
    biases and norms far from their initial values so that any mismatch shows."""
    torch.manual_seed(0)
    backbone = classifier.backbone
    with torch.no_grad():
        for m in backbone.modules():
            if isinstance(m, AgentAttentionCore):
                for n in m.bias_names + ('ac_bias', 'ca_bias'):
                    if hasattr(m, n):
                        getattr(m, n).normal_(0, 0.5)
            if hasattr(m, 'positional_encoding'):  # FLatten
                m.positional_encoding.normal_(0, 0.5)
                m.scale.normal_(0, 0.5)
            elif hasattr(m, 'relative_position_bias_table'):
                m.relative_position_bias_table.normal_(0, 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):  # MLLA: non-trivial statistics
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    state = published_classification_state(backbone)
    if 'norm.weight' in state:
        state['norm.weight'] = torch.rand_like(state['norm.weight']) + 0.5
        state['norm.bias'] = torch.randn_like(state['norm.bias']) * 0.1
    return state


@pytest.mark.parametrize('name,collection,reference,size', CASES,
                         ids=[c[0] for c in CASES])
def test_classifier_logits_equal_the_published_classifier(name, collection, reference,
                                                          size, zoo_env, tmp_path):
    state = published_weights(build_classifier(name))
    path = tmp_path / 'published.pth'
    torch.save({'model': state}, path)
    zoo_env(name, str(path), collection=collection, config=classifier_config(name))

    model = build_classifier(name)  # init_cfg: mmagent://NAME?target=mmpretrain
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, size, size)  # one image: batches are covered per family
    with torch.no_grad():
        ours = model(x, mode='tensor')
        ref = reference({k: v.float() for k, v in state.items()}, x)
    assert ours.shape == (1, 1000)
    assert (ours - ref).abs().max().item() <= 1e-4
    assert ref.std() > 0.1  # the comparison is not between two near-constant outputs


def test_swin_classifier_needs_its_small_map_option():
    """Downstream Swin pads a small map and shifts; the classifier does not: the
    option is what makes the published classifier's logits."""
    torch.manual_seed(0)
    pad = build_classifier('agent_swin_t_in1k', pad_small_map=True).eval()
    nopad = build_classifier('agent_swin_t_in1k').eval()
    nopad.load_state_dict(pad.state_dict())
    with torch.no_grad():
        for m in pad.backbone.modules():
            if hasattr(m, 'relative_position_bias_table'):
                m.relative_position_bias_table.normal_(0, 1.0)
        nopad.load_state_dict(pad.state_dict())
        x = torch.randn(1, 3, 224, 224)
        assert (pad(x, mode='tensor') - nopad(x, mode='tensor')).abs().max() > 1e-3


def test_model_hub_names_and_get_model(zoo_env, tmp_path):
    import mmpretrain
    from mmpretrain.apis.model import ModelHub

    import mmagent.zoo.hub  # noqa: F401  (registered when mmpretrain.apis loads)
    names = mmpretrain.list_models('agent_*')
    for n in ('agent_pvt_t_in1k', 'agent_swin_t_in1k', 'agent_swin_b_384_in1k'):
        assert n in names
    assert ModelHub.get('agent_pvt_t_in1k').weights == \
        'mmagent://agent_pvt_t_in1k?target=mmpretrain'
    state = published_weights(build_classifier('agent_pvt_t_in1k'))
    path = tmp_path / 'published.pth'
    torch.save({'model': state}, path)
    zoo_env('agent_pvt_t_in1k', str(path), collection='Agent-PVT',
            config=classifier_config('agent_pvt_t_in1k'))
    model = mmpretrain.get_model('agent_pvt_t_in1k', pretrained=True)
    torch.testing.assert_close(model.head.fc.weight, state['head.weight'])
    torch.testing.assert_close(model.backbone.block1[0].attn.an_bias,
                               state['block1.0.attn.an_bias'])


def test_inferencer_by_name_names_imagenet_classes(zoo_env, tmp_path):
    import numpy as np
    from mmpretrain.apis import ImageClassificationInferencer
    state = published_weights(build_classifier('agent_pvt_t_in1k'))
    path = tmp_path / 'published.pth'
    torch.save({'model': state}, path)
    zoo_env('agent_pvt_t_in1k', str(path), collection='Agent-PVT',
            config=classifier_config('agent_pvt_t_in1k'))
    inferencer = ImageClassificationInferencer('agent_pvt_t_in1k')
    image = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    (result, ) = inferencer(image)
    assert result['pred_scores'].shape == (1000, )
    assert abs(float(result['pred_scores'].sum()) - 1) < 1e-4
    assert result['pred_class'] == inferencer.classes[result['pred_label']]
    assert inferencer.classes[0].startswith('tench')  # ImageNet's class 0


def test_published_higher_resolution_variants_are_in_the_zoo():
    from mmagent import zoo
    for name, res in (('agent_pvt_m_256_in1k', 256), ('agent_swin_s_288_in1k', 288),
                      ('agent_swin_b_384_in1k', 384), ('agent_deit_s_448_in1k', 448),
                      ('agent_cswin_b_384_in1k', 384)):
        e = zoo.get_entry(name)
        assert e.extra['Resolution'] == res and e.published
        assert osp.isfile(e.config_path)
