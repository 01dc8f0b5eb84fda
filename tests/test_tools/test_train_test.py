"""tools/train.py and tools/test.py on toy data with the real zoo configs."""
import glob
import os.path as osp

import pytest

from mmagent.testing.toy_configs import TOY_OPTIONS, write_toy_config
from tests.conftest import ROOT
from tests.test_tools.conftest import config_path, read_metrics, run_tool


def test_missing_dataset_gives_one_clear_message(tmp_path):
    out = run_tool(
        osp.join(ROOT, 'tools', 'train.py'), config_path('maskrcnn_agent_pvt_t.py'),
        check=False, cwd=str(tmp_path))
    assert out.returncode == 2
    assert 'Traceback' not in out.stderr
    assert 'looked for: data/coco/' in out.stderr
    assert "data_root:  'data/coco/'" in out.stderr
    assert 'cocodataset.org' in out.stderr
    seg = run_tool(
        osp.join(ROOT, 'tools', 'test.py'), config_path('fpn_agent_pvt_t.py'), 'x.pth',
        check=False, cwd=str(tmp_path))
    assert seg.returncode == 2 and 'ADE20K' in seg.stderr
    assert 'Traceback' not in seg.stderr


# zoo config, kind, smaller backbone overrides to keep CPU time low. One case per
# family and per head; every other zoo config builds in tests/test_configs.py.
CASES = [
    ('maskrcnn_agent_pvt_t.py', 'det', 'maskrcnn', ''),
    ('retinanet_agent_pvt_s.py', 'det', 'retinanet', "depths=[1, 1, 1, 1], "),
    ('cascade_maskrcnn_agent_swin_t_3x.py', 'det', 'cascade_maskrcnn',
     "depths=[2, 2, 2, 2], "),
    ('upernet_agent_swin_t.py', 'seg', 'upernet', "depths=[2, 2, 2, 2], "),
    ('fpn_agent_pvt_t.py', 'seg', 'fpn', ''),
    ('maskrcnn_mlla_t.py', 'det', 'maskrcnn', "depths=[1, 1, 1, 1], "),
    ('maskrcnn_agent_cswin_t.py', 'det', 'maskrcnn', "depths=[1, 1, 1, 1], "),
    ('maskrcnn_flatten_swin_t.py', 'det', 'maskrcnn', "depths=[1, 1, 1, 1], "),
]


@pytest.mark.parametrize('name,kind,family,backbone', CASES,
                         ids=[c[0][:-3] for c in CASES])
def test_train_then_test_each_model_family(name, kind, family, backbone, tmp_path,
                                           toy_coco, toy_ade):
    cfg = write_toy_config(
        config_path(name), kind, toy_coco if kind == 'det' else toy_ade,
        str(tmp_path / 'cfg.py'), epochs=1, iters=2, backbone_overrides=backbone)
    work = str(tmp_path / 'work')
    classes = TOY_OPTIONS[family]
    run_tool('tools/train.py', cfg, '--work-dir', work, '--cfg-options',
             'train_cfg.val_begin=100', *classes)
    ckpts = glob.glob(osp.join(work, '*.pth'))
    assert ckpts, 'no checkpoint written'
    out = str(tmp_path / ('results.pkl' if kind == 'det' else 'pred'))
    run_tool('tools/test.py', cfg, ckpts[0], '--work-dir', work, '--out', out,
             '--show-dir', str(tmp_path / 'vis'), '--cfg-options', *classes)
    metrics = read_metrics(work)
    key = 'coco/bbox_mAP' if kind == 'det' else 'mIoU'
    assert key in metrics, sorted(metrics)
    assert osp.exists(out)
    assert glob.glob(str(tmp_path / 'vis' / '**' / '*.png'), recursive=True) or \
        glob.glob(str(tmp_path / 'vis' / '**' / '*.jpg'), recursive=True)
