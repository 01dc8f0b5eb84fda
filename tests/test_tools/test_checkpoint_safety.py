"""No checkpoint runs code, whatever TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD says, and the tools
check a checkpoint (and config) before any work, in one line (issue 21). Real processes:
the variable is read by every ``torch.load``."""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch

from mmagent.testing.toy_configs import write_toy_config
from tests.conftest import ROOT
from tests.test_tools.conftest import config_path


class _Payload:
    """Pickles as a call of ``os.system``: an unrestricted unpickler runs it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / 'payload-ran'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'meta': _Payload(str(marker))}, path)
    return path, marker


def _env(**extra):
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='2',
                TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1', **extra)


LIBRARY_PATHS = textwrap.dedent("""
    import sys
    import torch.nn as nn
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint
    from mmagent import zoo
    from mmagent.models import AgentPVT
    evil, work = sys.argv[1], sys.argv[2]

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = nn.Linear(1, 2)

        def forward(self, *args, **kwargs):
            return {}

    runner = Runner(model=Toy(), work_dir=work)
    paths = {
        'CheckpointLoader': lambda: CheckpointLoader.load_checkpoint(evil),
        'load_checkpoint': lambda: load_checkpoint(AgentPVT(), evil),
        'init_cfg': lambda: AgentPVT(init_cfg=dict(type='Pretrained',
                                                   checkpoint=evil)).init_weights(),
        'load_from': lambda: runner.load_checkpoint(evil),
        'resume': lambda: runner.resume(evil),
        'safe_load': lambda: zoo.safe_load(evil),
        'mmagent://': lambda: CheckpointLoader.load_checkpoint('mmagent://evil_in1k'),
    }
    for label, load in paths.items():
        try:
            load()
            print(label, 'LOADED')
        except zoo.UnsafeCheckpointError:
            print(label, 'refused')
""")


def test_payload_runs_on_no_library_path(evil, zoo_env, tmp_path):
    path, marker = evil
    zoo_env('evil_in1k', path)
    out = subprocess.run([sys.executable, '-c', LIBRARY_PATHS, path,
                          str(tmp_path / 'w')], cwd=ROOT, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [
        line for line in out.stdout.splitlines() if line.endswith(('refused', 'LOADED'))
    ]
    assert lines == [
        f'{label} refused'
        for label in ('CheckpointLoader', 'load_checkpoint', 'init_cfg', 'load_from',
                      'resume', 'safe_load', 'mmagent://')
    ], out.stdout[-3000:]
    assert not marker.exists()


# The tools' main() functions, run one after the other in one real process.
TOOLS = textwrap.dedent("""
    import contextlib, io, json, runpy, sys
    results = {}
    for label, script, argv in json.loads(sys.argv[1]):
        main = runpy.run_path(script)['main']
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(argv)
        results[label] = [rc, err.getvalue()]
    print(json.dumps(results))
""")


def test_tools_refuse_payloads_and_bad_checkpoints_in_one_line(evil, tmp_path, toy_ade):
    path, marker = evil
    cfg = write_toy_config(
        config_path('fpn_agent_pvt_t.py'), 'seg', toy_ade, str(tmp_path / 'cfg.py'))
    cut = tmp_path / 'cut.pth'
    torch.save({'state_dict': {'w': torch.zeros(20_000)}}, cut)
    cut.write_bytes(cut.read_bytes()[:30_000])
    nan = str(tmp_path / 'nan.pth')
    torch.save({'state_dict': {'backbone.w': torch.tensor([1., float('nan')])}}, nan)
    test, train = osp.join(ROOT, 'tools', 'test.py'), osp.join(ROOT, 'tools', 'train.py')
    convert = osp.join(ROOT, 'tools', 'convert_checkpoint.py')
    work = ['--work-dir', str(tmp_path / 'work')]
    cases = [
        ('test.py payload', test, [cfg, path] + work),
        ('train.py --resume payload', train, [cfg, '--resume', path] + work),
        ('convert payload', convert, [path,
                                      str(tmp_path / 'o.pth'), '--layout', 'timm']),
        ('missing config', test, [str(tmp_path / 'nope.py'), path]),
        ('missing checkpoint', test, [cfg, str(tmp_path / 'nope.pth')] + work),
        ('truncated checkpoint', test, [cfg, str(cut)] + work),
        ('zoo typo', test, [cfg, 'mmagent://agent_pvt_t_in1k?target=mmpretrian'] + work),
        ('NaN weights', test, [cfg, nan] + work),
    ]
    out = subprocess.run(
        [sys.executable, '-c', TOOLS, json.dumps(cases)], cwd=ROOT, env=_env(),
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    expect = {
        'test.py payload': (2, [path, 'refused to load']),
        'train.py --resume payload': (2, [path, 'refused to load']),
        'convert payload': (1, [path, 'refused to load']),
        'missing config': (2, ['config file not found', 'nope.py']),
        'missing checkpoint': (2, ['nope.pth', 'no such file']),
        'truncated checkpoint': (2, [str(cut), 'save it again']),
        'zoo typo': (2, ["'mmpretrian'", 'target=backbone|mmpretrain']),
        'NaN weights': (2, [nan, 'backbone.w holds NaN']),
    }
    for label, (rc, words) in expect.items():
        got_rc, err = results[label]
        lines = [line for line in err.splitlines() if line.startswith('mmagent:')]
        assert got_rc == rc and len(lines) == 1 and 'Traceback' not in err, (label, err)
        for w in words:
            assert w in lines[0], (label, w, lines[0])
    assert not marker.exists()
    assert not osp.exists(tmp_path / 'work')  # no runner was built
