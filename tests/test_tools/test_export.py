"""ONNX export (issue 23): every family exports once with dynamic height and width, and
ONNX Runtime equals PyTorch within 1e-4 at three sizes from that one file, square and
not, multiples of the window / stripe / patch and not; tools/export.py does the same
for a classifier, a segmentor and a detector config. Random weights; small depths keep
the exports quick (every block kind of each family is still in the graph)."""
import os.path as osp
import sys

import pytest
import torch

from mmagent.deploy import OnnxMismatchError, check_onnx, export_onnx, valid_sizes
from mmagent.models import backbones as B
from tests.shallow_families import FAMILIES

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: export size, then two more: non-square, and not multiples of 32 (padding paths).
#: 224 is where every pad of the Swin layouts is zero: traced there as it is, the
#: graph failed in ONNX Runtime at every other size (see deploy.trace_shape).
SIZES = [(224, 224), (288, 352), (232, 333)]


def _randomise_norms(model):
    """Non-trivial norm and bias values, so a graph that drops one shows."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('bias') or 'norm' in name or 'table' in name:
                p.copy_(
                    torch.randn(p.shape, generator=gen) * 0.1 +
                    (1. if 'norm' in name and name.endswith('weight') else 0.))
    return model


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_backbone_exports_exact_at_any_size(family, tmp_path):
    torch.manual_seed(0)
    model = _randomise_norms(FAMILIES[family]()).eval()
    path = str(tmp_path / f'{family}.onnx')
    program = export_onnx(model, path, shape=SIZES[0])
    sizes = valid_sizes(program)
    for h, w in SIZES:
        assert sizes['height'][0] <= h and sizes['width'][0] <= w, sizes
    reports = check_onnx(path, model, SIZES)
    assert [r['shape'] for r in reports] == SIZES
    assert all(r['max_diff'] <= 1e-4 for r in reports), reports
    # the check is not a formality: the file no longer matches other weights
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    with pytest.raises(OnnxMismatchError, match='differs from PyTorch'):
        check_onnx(path, model, SIZES[:1])
    wrong = check_onnx(path, model, SIZES[2:], strict=False)[0]
    assert not wrong['ok'] and wrong['max_diff'] > 1e-4


def test_swin_classifier_rule_exports_for_every_size_from_one_window(tmp_path):
    """The published Swin classifiers do not shift a stage-4 map of exactly one
    window (224 px) and shift larger ones: one file serves both."""
    torch.manual_seed(0)
    model = _randomise_norms(
        B.AgentSwinTransformer(arch='tiny', depths=[1, 1, 2, 2],
                               pad_small_map=False)).eval()
    path = str(tmp_path / 'cls.onnx')
    export_onnx(model, path, shape=(224, 224))
    reports = check_onnx(path, model, [(224, 224), (256, 288)])
    assert all(r['max_diff'] <= 1e-4 for r in reports), reports


def test_export_refuses_a_bad_shape(tmp_path):
    with pytest.raises(ValueError, match='shape must be'):
        export_onnx(
            B.AgentPVT(arch='tiny', depths=[1, 1, 1, 1]), str(tmp_path / 'x.onnx'),
            shape=(224, ))


def _tool(capsys, *args):
    """tools/export.py's ``main`` in this process (the exports dominate; a fresh
    interpreter would add its imports to each): (exit status, stdout, stderr)."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        import export as tool
    finally:
        sys.path.pop(0)
    try:
        code = tool.main(list(args))
    except SystemExit as e:  # argparse's errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


SHALLOW = {
    'classifier': ('configs/classification/agent_pvt_t_in1k.py',
                   'model.backbone.depths=[1,1,1,1]', (1, 1000)),
    'segmentor':
    ('configs/upernet_flatten_pvt_t.py', 'model.backbone.depths=[1,1,1,1]', None),
    'detector': ('configs/maskrcnn_mlla_t.py', 'model.backbone.depths=[1,1,1,1]', None),
}


@pytest.mark.parametrize('kind', sorted(SHALLOW))
def test_export_tool(kind, tmp_path, capsys):
    import numpy as np
    import onnxruntime as ort
    config, depth, logits = SHALLOW[kind]
    out = tmp_path / f'{kind}.onnx'
    code, stdout, stderr = _tool(capsys, osp.join(ROOT, config), '--out', str(out),
                                 '--shape', '224', '256', '--check-shape', '200', '333',
                                 '--cfg-options', depth)
    assert code == 0, stdout + stderr
    lines = stdout.splitlines()
    for size in ('224x256', '200x333'):
        assert any(
            line.startswith(f'{size}: max abs diff') and '(ok' in line
            for line in lines), stdout
    assert 'preprocess outside the graph: mean=[123.675, 116.28, 103.53] std=[58.395, ' \
        '57.12, 57.375] bgr_to_rgb=True' in stdout  # the configs' ImageNet settings
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    got = sess.run(None, {'image': np.zeros((1, 3, 160, 192), np.float32)})
    if kind == 'classifier':
        assert [g.shape for g in got] == [logits]
    elif kind == 'segmentor':  # decode-head logits at stride 4, before the resize
        assert len(got) == 1 and got[0].shape[2:] == (40, 48)
    else:  # the five FPN levels
        assert len(got) == 5 and got[0].shape[2:] == (40, 48)


def test_export_tool_errors(tmp_path, capsys):
    code, _, err = _tool(capsys, 'configs/nope.py', '--out', str(tmp_path / 'x.onnx'))
    assert code == 2 and 'config file not found' in err
    code, _, err = _tool(capsys, osp.join(ROOT, 'configs/upernet_flatten_pvt_t.py'),
                         '--out', str(tmp_path / 'x.pt'))
    assert code == 2 and '--out must name a .onnx file' in err
    assert not (tmp_path / 'x.pt').exists()
