"""MMPretrain workflows with mmagent's classification configs: mmagent's tools on a
class-folder dataset (CustomDataset) and on the ImageNet layout, mmpretrain's own
packaged tools, and tools/demo.py's top-k."""
import glob
import os.path as osp

import mmpretrain
import pytest
import torch

from mmagent.testing.toy_data import make_folder_classification
from tests.test_tools.conftest import config_path, read_metrics, run_tool

MMPRETRAIN_TOOLS = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')


@pytest.fixture(scope='module')
def toy_cls(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_cls'))
    make_folder_classification(root, num_train=4, num_val=2, seed=1)
    return root + '/'


def _data_options(root):
    return [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ]


ONE_EPOCH = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']


def test_train_and_test_on_class_folders_then_demo_top_k(toy_cls, tmp_path):
    work = str(tmp_path / 'work')
    cfg = config_path('toy/agent_pvt_t_cls_toy.py')
    run_tool('tools/train.py', cfg, '--work-dir', work, '--cfg-options',
             *_data_options(toy_cls), *ONE_EPOCH)
    (ckpt, ) = glob.glob(osp.join(work, '*.pth'))
    run_tool('tools/test.py', cfg, ckpt, '--work-dir', work, '--cfg-options',
             *_data_options(toy_cls))
    assert 0 <= read_metrics(work)['accuracy/top1'] <= 100
    image = sorted(glob.glob(osp.join(toy_cls, 'val', 'circle', '*.png')))[0]
    out = run_tool('tools/demo.py', image, cfg, '--weights', ckpt, '--out-dir',
                   str(tmp_path / 'demo'), '--topk', '3')
    ranks = [
        line.split() for line in out.stdout.splitlines()
        if line.strip()[:2] in ('1.', '2.', '3.')
    ]
    assert [r[1] for r in ranks if r] and sorted(r[1] for r in ranks) == \
        ['circle', 'square', 'triangle']
    scores = [float(r[2]) for r in ranks]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-3


def test_imagenet_layout_with_the_published_classifier_config(tmp_path):
    """configs/classification/agent_pvt_t_in1k.py unchanged but for data_root: the
    ImageNet layout (val/ images, meta/val.txt labels) and a converted checkpoint."""
    import cv2
    import numpy as np
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    root = tmp_path / 'imagenet'
    (root / 'val').mkdir(parents=True)
    (root / 'meta').mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        name = f'ILSVRC2012_val_{i + 1:08d}.JPEG'
        cv2.imwrite(
            str(root / 'val' / name), (rng.random((300, 260, 3)) * 255).astype(np.uint8))
        lines.append(f'{name} {int(rng.integers(0, 1000))}')
    (root / 'meta' / 'val.txt').write_text('\n'.join(lines) + '\n')
    cfg_path = config_path('classification/agent_pvt_t_in1k.py')
    cfg = Config.fromfile(cfg_path)
    cfg.model.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'agent_pvt_t_in1k_mmpretrain.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    work = str(tmp_path / 'work')
    run_tool('tools/test.py', cfg_path, ckpt, '--work-dir', work, '--cfg-options',
             f'test_dataloader.dataset.data_root={root}/',
             f'val_dataloader.dataset.data_root={root}/')
    metrics = read_metrics(work)
    assert 'accuracy/top1' in metrics and 'accuracy/top5' in metrics


def test_mmpretrain_own_packaged_tools_with_an_mmagent_config(toy_cls, tmp_path):
    work = str(tmp_path / 'work')
    cfg = config_path('toy/agent_pvt_t_cls_toy.py')
    run_tool(
        osp.join(MMPRETRAIN_TOOLS, 'train.py'), cfg, '--work-dir', work, '--cfg-options',
        *_data_options(toy_cls), *ONE_EPOCH)
    (ckpt, ) = glob.glob(osp.join(work, '*.pth'))
    run_tool(
        osp.join(MMPRETRAIN_TOOLS, 'test.py'), cfg, ckpt, '--work-dir', work,
        '--cfg-options', *_data_options(toy_cls))
    assert 'accuracy/top1' in read_metrics(work)


def test_mmengine_compile_option_trains_the_compiled_model(toy_cls, tmp_path):
    """Configs turn torch.compile on through MMEngine's ``compile`` option, which
    mmagent's tools apply to the model's forward (``aot_eager`` here: dynamo and
    AOTAutograd, without inductor's code generation), in training and testing."""
    work = str(tmp_path / 'work')
    cfg = config_path('toy/agent_pvt_t_cls_toy.py')
    out = run_tool('tools/train.py', cfg, '--work-dir',
                   work, '--cfg-options', 'compile.backend=aot_eager',
                   *_data_options(toy_cls), *ONE_EPOCH, env={'TORCH_LOGS': 'recompiles'})
    assert "the model's forward is compiled" in out.stdout + out.stderr
    # dynamo runs the forward: validation (no grad) recompiles what training compiled
    assert 'Recompiling function forward' in out.stderr
    (ckpt, ) = glob.glob(osp.join(work, '*.pth'))
    out = run_tool('tools/test.py', cfg, ckpt, '--work-dir', work, '--cfg-options',
                   'compile.backend=aot_eager', *_data_options(toy_cls))
    assert "the model's forward is compiled" in out.stdout + out.stderr
    assert 0 <= read_metrics(work)['accuracy/top1'] <= 100
