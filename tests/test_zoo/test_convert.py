"""Published checkpoints (ImageNet, mmdet 2.x, mmseg 0.x layouts) served over HTTP,
fetched, converted and loaded: zero missing, zero unexpected keys."""
import importlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_checkpoint

from mmagent import zoo
from mmagent.models import (MLLA, AgentCSWin, AgentDeiT, AgentPVT, AgentSwinTransformer,
                            FLattenCSWin, FLattenPVT, FLattenPVTv2,
                            FLattenSwinTransformer)
from mmagent.testing import (key_table, published_classification_state,
                             published_downstream_checkpoint)
from tests.conftest import ROOT


def _build(config, **backbone):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    cfg.model.backbone.update(backbone)
    scope = cfg.default_scope
    with DefaultScope.overwrite_default_scope(scope):
        return importlib.import_module(f'{scope}.registry').MODELS.build(cfg.model)


#: values through the whole download path on real models (every zoo entry's key names,
#: shapes and derived buffers: tests/test_zoo/test_published_keys.py)
CASES = [
    ('maskrcnn_agent_pvt_t.py', 'mmdet2', 'maskrcnn_agent_pvt_t_coco_1x'),
    ('fpn_agent_pvt_t.py', 'mmseg0', 'fpn_agent_pvt_t_ade20k_40k'),
]


@pytest.mark.parametrize('config,layout,name', CASES, ids=[c[0][:-3] for c in CASES])
def test_downstream_weights_convert_with_no_missing_or_unexpected_keys(
        config, layout, name, zoo_env, tmp_path):
    torch.manual_seed(0)
    published = _build(config)
    ckpt = published_downstream_checkpoint(published, layout, half=True, name=name)
    assert set(ckpt['state_dict']) == set(key_table(name)['keys'])
    src = tmp_path / 'published.pth'
    torch.save(ckpt, src)
    zoo_env(
        'model_under_test', str(src), layout=layout,
        collection='MLLA' if 'mlla' in config else
        ('Agent-Swin' if 'swin' in config else 'Agent-PVT'))
    converted = torch.load(
        zoo.fetch('model_under_test', progress=False), weights_only=True)
    assert converted['meta']['dataset_meta']['classes'][:2] == ('class_0', 'class_1')
    if layout == 'mmseg0':
        assert len(converted['meta']['dataset_meta']['palette']) == 150
    fresh = _build(config)
    result = fresh.load_state_dict(converted['state_dict'], strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(
            v,
            published.state_dict()[k].half().to(v.dtype) if v.is_floating_point() else v,
            msg=k)


def test_mmagent_scheme_in_a_config_resolves_downloads_and_loads(zoo_env, tmp_path):
    """load_from = 'mmagent://NAME' and init_cfg checkpoint 'mmagent://NAME'."""
    torch.manual_seed(0)
    det = _build('maskrcnn_agent_pvt_t.py')
    torch.save(published_downstream_checkpoint(det, 'mmdet2'), tmp_path / 'det.pth')
    zoo_env('maskrcnn_agent_pvt_t_coco_1x', str(tmp_path / 'det.pth'), layout='mmdet2')
    fresh = _build('maskrcnn_agent_pvt_t.py')
    load_checkpoint(fresh, 'mmagent://maskrcnn_agent_pvt_t_coco_1x', strict=True)
    torch.testing.assert_close(fresh.backbone.block1[0].attn.an_bias,
                               det.backbone.block1[0].attn.an_bias)

    src = AgentPVT(arch='tiny')
    torch.save({'model': published_classification_state(src)}, tmp_path / 'in1k.pth')
    zoo_env('agent_pvt_t_in1k', str(tmp_path / 'in1k.pth'), layout='timm')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'maskrcnn_agent_pvt_t.py'))
    assert cfg.model.backbone.init_cfg.checkpoint == 'mmagent://agent_pvt_t_in1k'
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import MODELS
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.testing.assert_close(model.backbone.pos_embed3, src.pos_embed3)
    torch.testing.assert_close(model.backbone.block4[1].attn.wa_bias,
                               src.block4[1].attn.wa_bias)


@pytest.mark.parametrize('cls,collection', [(AgentPVT, 'Agent-PVT'),
                                            (AgentSwinTransformer, 'Agent-Swin'),
                                            (MLLA, 'MLLA'), (AgentCSWin, 'Agent-CSwin'),
                                            (AgentDeiT, 'Agent-DeiT'),
                                            (FLattenPVT, 'FLatten'),
                                            (FLattenPVTv2, 'FLatten'),
                                            (FLattenSwinTransformer, 'FLatten'),
                                            (FLattenCSWin, 'FLatten')],
                         ids=lambda p: getattr(p, '__name__', None))
def test_imagenet_weights_map_onto_mmpretrain_classifier_keys(cls, collection, tmp_path):
    """mmpretrain's ImageClassifier = backbone.* + GlobalAveragePooling (no weights) +
    LinearClsHead (head.fc.*): the converted keys are exactly those (whole classifiers
    are loaded and compared in tests/test_classification.py)."""
    src = cls(arch='b0' if cls is FLattenPVTv2 else 'tiny',
              out_indices=-1 if cls is AgentDeiT else (3, ))
    state = published_classification_state(src)
    torch.save({'model': state}, tmp_path / 'in1k.pth')
    out = zoo.convert_file(
        str(tmp_path / 'in1k.pth'), str(tmp_path / 'cls.pth'), 'timm',
        target='mmpretrain', family=cls)
    converted = torch.load(out, weights_only=True)['state_dict']
    expected = {f'backbone.{k}'
                for k in src.state_dict()} | {'head.fc.weight', 'head.fc.bias'}
    assert set(converted) == expected
    dims = src.embed_dims if cls is AgentDeiT else src.embed_dims[-1]
    assert converted['head.fc.weight'].shape == (1000, dims)
    if cls in (AgentSwinTransformer, AgentCSWin, FLattenSwinTransformer, FLattenCSWin):
        # the classifier's final norm is the backbone's norm3
        torch.testing.assert_close(converted['backbone.norm3.weight'],
                                   state['norm.weight'])


def test_convert_tool_refuses_unsafe_files(tmp_path):
    import pickle
    import subprocess
    import sys

    class Evil:

        def __reduce__(self):
            return (print, ('ran code', ))

    with open(tmp_path / 'evil.pth', 'wb') as f:
        pickle.dump({'state_dict': {}, 'x': Evil()}, f)
    out = subprocess.run([
        sys.executable, 'tools/convert_checkpoint.py',
        str(tmp_path / 'evil.pth'),
        str(tmp_path / 'out.pth'), '--layout', 'mmdet2'
    ], cwd=ROOT, capture_output=True, text=True, env={
        'PYTHONPATH': ROOT,
        'PATH': '/usr/bin:/bin'
    })
    assert out.returncode == 1 and 'refused' in out.stderr
    assert 'ran code' not in out.stdout and not (tmp_path / 'out.pth').exists()
