"""DAT++ through the tools and the codebases: Mask R-CNN + DAT-T and UperNet + DAT-T
train and test on the toy data with tools/train.py and tools/test.py (a reduced-depth
DAT-T); published checkpoints of each layout convert with zero missing and zero
unexpected keys; the classifier runs through mmpretrain on converted ImageNet weights."""
import glob
import importlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmagent import zoo
from mmagent.testing import published_downstream_checkpoint
from mmagent.testing.toy_configs import TOY_OPTIONS, write_toy_config
from tests.conftest import ROOT
from tests.test_tools.conftest import config_path, read_metrics, run_tool

SMALL = "depths=[1, 1, 1, 1], stage_spec=['N', 'D', 'N', 'D'], with_cp=False, "
SMALL_KW = dict(depths=[1, 1, 1, 1], stage_spec=['N', 'D', 'N', 'D'])
# the published recipes train in mixed precision, which mmengine offers on GPUs only
CPU = ['optim_wrapper.type=OptimWrapper']


@pytest.mark.parametrize('name,kind,family', [('maskrcnn_dat_t.py', 'det', 'maskrcnn'),
                                              ('upernet_dat_t.py', 'seg', 'upernet')])
def test_train_then_test_on_toy_data(name, kind, family, tmp_path, toy_coco, toy_ade):
    root = toy_coco if kind == 'det' else toy_ade
    cfg = write_toy_config(
        config_path(name), kind, root, str(tmp_path / 'cfg.py'), epochs=1, iters=2,
        backbone_overrides=SMALL)
    work = str(tmp_path / 'work')
    options = TOY_OPTIONS[family]
    run_tool('tools/train.py', cfg, '--work-dir', work, '--cfg-options',
             'train_cfg.val_begin=100', *CPU, *options)
    ckpts = glob.glob(osp.join(work, '*.pth'))
    assert ckpts, 'no checkpoint written'
    run_tool('tools/test.py', cfg, ckpts[0], '--work-dir', work, '--cfg-options',
             *options)
    metrics = read_metrics(work)
    assert ('coco/bbox_mAP' if kind == 'det' else 'mIoU') in metrics, sorted(metrics)


def _build(config, **backbone):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    cfg.model.backbone.update(backbone, init_cfg=None)
    scope = cfg.default_scope
    with DefaultScope.overwrite_default_scope(scope):
        return importlib.import_module(f'{scope}.registry').MODELS.build(cfg.model)


@pytest.mark.parametrize('config,layout,name',
                         [('retinanet_dat_t.py', 'mmdet2', 'retinanet_dat_t_coco_1x'),
                          ('fpn_dat_t.py', 'mmseg0', 'fpn_dat_t_ade20k_80k')])
def test_published_downstream_files_convert_with_no_missing_or_unexpected_keys(
        config, layout, name, zoo_env, tmp_path):
    """A file with the published keys (tests/published_keys, from the authors' code)
    and this model's values converts and loads with nothing missing or unexpected and
    the values unchanged (every entry's names and shapes: test_published_keys.py)."""
    torch.manual_seed(0)
    published = _build(config)
    state = published.state_dict()
    assert ('backbone.norms.0.norm.weight' in state) == ('retinanet' not in config)
    src = tmp_path / 'published.pth'
    torch.save(published_downstream_checkpoint(published, layout, name=name), src)
    zoo_env('model_under_test', str(src), layout=layout, collection='DAT++')
    converted = torch.load(
        zoo.fetch('model_under_test', progress=False), weights_only=True)
    fresh = _build(config)
    result = fresh.load_state_dict(converted['state_dict'], strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(v, state[k], msg=k)


def test_classifier_runs_through_mmpretrain_on_converted_weights(tmp_path):
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    cfg = Config.fromfile(config_path('classification/dat_t_in1k.py'))
    cfg.model.backbone.update(SMALL_KW)
    cfg.model.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    # the authors' layout: backbone keys, cls_norm, cls_head, under 'model'
    state = {
        k[len('backbone.'):]: v
        for k, v in model.state_dict().items()
        if k.startswith('backbone.') and '.norms.' not in '.' + k[9:]
    }
    state.update({
        'cls_norm.norm.weight': torch.rand(512),
        'cls_norm.norm.bias': torch.rand(512),
        'cls_head.weight': torch.randn(1000, 512),
        'cls_head.bias': torch.randn(1000)
    })
    torch.save({'model': state}, tmp_path / 'in1k.pth')
    out = zoo.convert_file(
        str(tmp_path / 'in1k.pth'), str(tmp_path / 'cls.pth'), 'timm',
        target='mmpretrain', family='DAT')
    result = model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])
    assert not result.missing_keys and not result.unexpected_keys
    model.eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        logits = model(x, mode='tensor')
        feat = model.backbone.patch_proj(x)  # the authors' classifier, step by step
        for i, stage in enumerate(model.backbone.stages):
            feat = stage(feat)
            if i < 3:
                feat = model.backbone.down_projs[i](feat)
    pooled = torch.nn.functional.layer_norm(
        feat.permute(0, 2, 3, 1), (512, ), state['cls_norm.norm.weight'],
        state['cls_norm.norm.bias']).mean((1, 2))
    expected = pooled @ state['cls_head.weight'].T + state['cls_head.bias']
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
