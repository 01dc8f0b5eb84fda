"""mmagent as a wheel: built from the clone, installed into a scratch folder and used
from outside the checkout (zoo index, configs, mmagent://NAME, the tools)."""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.conftest import ROOT


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(site folder with the installed wheel, a working folder outside the clone)."""
    base = tmp_path_factory.mktemp('wheel')
    src = base / 'src'
    files = subprocess.run(
        ['git', 'ls-files', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
        capture_output=True, text=True, check=True).stdout.split()
    for f in files:  # the clone's files, without build outputs or the venv
        if osp.isfile(osp.join(ROOT, f)):
            os.makedirs(osp.dirname(src / f), exist_ok=True)
            shutil.copy2(osp.join(ROOT, f), src / f)
    dist, site = base / 'dist', base / 'site'
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    subprocess.run(
        pip + ['wheel', '--no-deps', '--no-build-isolation', '-w',
               str(dist),
               str(src)], check=True, capture_output=True)
    (wheel, ) = list(dist.glob('mmagent-*.whl'))
    subprocess.run(pip +
                   ['install', '--no-deps', '--target',
                    str(site), str(wheel)], check=True, capture_output=True)
    work = base / 'elsewhere'
    work.mkdir()
    return site, work


def _run(installed, code, *args):
    site, work = installed
    env = dict(os.environ, PYTHONPATH=str(site), MMAGENT_HOME=str(work / 'cache'),
               MMAGENT_QUIET='1')
    env.pop('MMAGENT_METAFILE', None)
    return subprocess.run([sys.executable, *(['-c', code] if code else []), *args],
                          cwd=str(work), capture_output=True, text=True, env=env)


def test_wheel_carries_configs_and_zoo_index(installed):
    site, _ = installed
    out = _run(
        installed,
        textwrap.dedent(f"""
        import os.path as osp
        import mmagent
        from mmagent import zoo
        assert mmagent.__file__.startswith({str(site)!r}), mmagent.__file__
        index = zoo.load_index()
        e = index['maskrcnn_agent_pvt_t_coco_1x']
        assert osp.isfile(e.config_path), e.config_path
        from mmengine.config import Config
        cfg = Config.fromfile(e.config_path)
        print(len(index), cfg.model.backbone.type, e.config_path)
    """))
    assert out.returncode == 0, out.stderr[-3000:]
    count, backbone, path = out.stdout.split()
    assert int(count) >= 30 and backbone == 'mmagent.AgentPVT'
    assert path.startswith(str(site)) and '.mim/configs' in path


def test_tools_and_scheme_from_the_installed_package(installed, tmp_path, file_server):
    site, work = installed
    tool = osp.join(str(site), 'mmagent', '.mim', 'tools', 'download.py')
    out = _run(installed, None, tool, '--list')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'agent_pvt_t_in1k' in out.stdout and 'upernet_agent_swin_t' in out.stdout
    # mmagent://NAME against a local server, with the index the wheel carries.
    from mmagent.models import AgentPVT
    from mmagent.testing import published_classification_state
    torch.manual_seed(0)
    state = published_classification_state(AgentPVT(arch='tiny'))
    torch.save({'model': state}, osp.join(file_server.root, 'agent_pvt_t_in1k.pth'))
    out = _run(
        installed,
        textwrap.dedent(f"""
        import os
        os.environ['MMAGENT_MIRROR'] = {file_server.url('').rstrip('/')!r}
        import torch
        from mmagent.models import AgentPVT
        m = AgentPVT(arch='tiny', init_cfg=dict(type='Pretrained',
                                                checkpoint='mmagent://agent_pvt_t_in1k'))
        m.init_weights()
        print(float(m.block1[0].attn.an_bias.double().sum()))
    """))
    assert out.returncode == 0, out.stderr[-3000:]
    want = float(state['block1.0.attn.an_bias'].double().sum())
    assert abs(float(out.stdout.split()[-1]) - want) < 1e-9


def test_every_installed_tool_runs_to_its_help(installed):
    """Each Python tool the wheel ships in ``mmagent/.mim/tools`` imports what it needs
    from the installed package alone (no ``tests/``, no clone) and prints its usage."""
    site, _ = installed
    tools = sorted(glob.glob(osp.join(str(site), 'mmagent', '.mim', 'tools', '*.py')))
    assert {'train.py', 'test.py', 'benchmark.py',
            'download.py'} <= {osp.basename(t)
                               for t in tools}
    failed = []
    for tool in tools:
        out = _run(installed, None, tool, '--help')
        if out.returncode != 0 or 'usage' not in out.stdout.lower():
            failed.append(f'{osp.basename(tool)}: rc {out.returncode}: '
                          f'{(out.stderr.strip().splitlines() or [""])[-1]}')
    assert not failed, failed
