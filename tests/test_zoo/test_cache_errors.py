"""A zoo cache that never lies (issue 21): resumes only the same file, read-only caches,
wrong or damaged weights and bad arguments are one clear error each."""
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from mmagent import zoo
from mmagent.models import AgentCSWin, AgentPVT, AgentSwinTransformer, FLattenPVT
from mmagent.models import checkpoint as checkpoints
from mmagent.testing import published_classification_state
from tests.conftest import ROOT


def _tensor_file(path, seed=0, size=300_000):
    g = torch.Generator().manual_seed(seed)
    torch.save({'model': {'w': torch.randn(size, generator=g)}}, path)
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _sha(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _serve(zoo_env, tmp_path, name='toy_in1k'):
    _tensor_file(str(tmp_path / 'w.pth'))
    return zoo_env(name, str(tmp_path / 'w.pth'))


# -- resume only the same file ----------------------------------------------------------
def test_resume_after_the_mirror_changed_the_file_starts_over(zoo_env, tmp_path):
    _tensor_file(str(tmp_path / 'old.pth'), seed=0)
    served = zoo_env('toy_in1k', str(tmp_path / 'old.pth'))
    zoo_env.server.fault('toy_in1k.pth', truncate_after=100_000, times=1)
    with pytest.raises(zoo.DownloadError, match='broke off'):
        zoo.download('toy_in1k', progress=False, retries=0)
    # The mirror now serves another file (new contents, new ETag and date).
    new = _tensor_file(str(tmp_path / 'new.pth'), seed=1)
    shutil.copy(str(tmp_path / 'new.pth'), served)
    os.utime(served, (1e9, 1e9))
    path = zoo.download('toy_in1k', progress=False, retries=0)
    assert _sha(path) == new  # not a splice of the old head and the new tail
    resume = zoo_env.server.headers_seen[-1]
    assert resume['Range'] == 'bytes=100000-' and resume['If-Range']
    records = json.load(open(osp.join(zoo_env.cache, 'sha256.json')))
    assert records['toy_in1k.pth'] == new
    torch.load(path, weights_only=True)  # a whole checkpoint, converts later


def test_a_part_without_a_validator_is_fetched_again(tmp_path):
    from mmagent.testing.http_server import FileServer
    from mmagent.zoo.download import _fetch
    with FileServer(str(tmp_path / 'srv'), validators=False) as srv:
        _tensor_file(osp.join(srv.root, 'x.pth'))
        srv.fault('x.pth', truncate_after=50_000, times=1)
        part = str(tmp_path / 'x.pth.part')
        with pytest.raises(zoo.DownloadError):
            _fetch(srv.url('x.pth'), part, progress=False)
        _fetch(srv.url('x.pth'), part, progress=False)
        assert srv.requests[-1] == ('x.pth', None)  # no Range: nothing proves sameness
        assert _sha(part) == _sha(osp.join(srv.root, 'x.pth'))


# -- the cache folder -------------------------------------------------------------------
def test_unwritable_home_is_one_line_before_any_transfer(zoo_env, tmp_path, monkeypatch):
    _serve(zoo_env, tmp_path)
    (tmp_path / 'file').write_text('not a folder')
    monkeypatch.setenv('MMAGENT_HOME', str(tmp_path / 'file' / 'cache'))
    with pytest.raises(zoo.CacheError) as e:
        zoo.download('toy_in1k', progress=False)
    msg = str(e.value)
    assert '\n' not in msg and f'MMAGENT_HOME={tmp_path}/file/cache' in msg
    assert 'tools/download.py toy_in1k' in msg
    assert zoo_env.server.requests == []


READ_ONLY_CHILD = textwrap.dedent("""
    import os, sys
    from mmagent import zoo
    good, broken = sys.argv[1], sys.argv[2]
    print(zoo.fetch('toy_in1k', dest=good, progress=False))
    try:
        zoo.fetch('toy_in1k', dest=broken, progress=False)
    except zoo.CacheError as e:
        print('ERROR', e)
""")


def _without_write_rights(cmd):
    """``cmd`` run so that file permissions bind it: as root (who writes anywhere),
    under ``setpriv`` without the capabilities that override them."""
    if os.getuid() != 0:
        return cmd
    setpriv = shutil.which('setpriv')
    if setpriv is None:
        pytest.skip('running as root without setpriv: a read-only folder stays writable')
    return [
        setpriv, '--inh-caps=-all', '--bounding-set=-dac_override,-dac_read_search', '--',
        *cmd
    ]


def test_read_only_shared_cache(zoo_env, tmp_path):
    _serve(zoo_env, tmp_path)
    shared = str(tmp_path / 'shared')
    try:
        good, broken = osp.join(shared, 'good'), osp.join(shared, 'broken')
        zoo.fetch('toy_in1k', dest=good, progress=False)  # the owner pre-fetches
        shutil.copytree(good, broken)  # a copy: timestamps lost, record dropped below
        os.remove(osp.join(broken, 'sha256.json'))
        raw = osp.join(good, 'toy_in1k.pth')
        os.utime(raw, (2e9, 2e9))  # the converted file now looks older than its source
        shutil.copy(os.environ['MMAGENT_METAFILE'], osp.join(shared, 'metafile.yml'))
        for root, dirs, files in os.walk(shared):
            for n in dirs:
                os.chmod(osp.join(root, n), 0o555)
            for n in files:
                os.chmod(osp.join(root, n), 0o444)
        before = {p: os.stat(osp.join(good, p)).st_mtime for p in os.listdir(good)}
        env = dict(os.environ, PYTHONPATH=ROOT,
                   MMAGENT_METAFILE=osp.join(shared, 'metafile.yml'))
        out = subprocess.run(
            _without_write_rights([sys.executable, '-c', READ_ONLY_CHILD, good, broken]),
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        lines = out.stdout.strip().splitlines()
        assert lines[0] == osp.join(good, 'toy_in1k_mmagent.pth')
        after = {p: os.stat(osp.join(good, p)).st_mtime for p in os.listdir(good)}
        assert after == before  # nothing written
        assert lines[1].startswith('ERROR ') and len(lines) == 2
        assert osp.join(broken, 'toy_in1k.pth') in lines[1]
        assert 'sha256.json' in lines[1] and 'tools/download.py toy_in1k' in lines[1]
    finally:
        for root, dirs, _ in os.walk(shared):
            for n in dirs:
                os.chmod(osp.join(root, n), 0o755)


# -- bad files and URLs -----------------------------------------------------------------
def test_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save({'state_dict': {'w': torch.zeros(10_000)}}, path)
    path.write_bytes(path.read_bytes()[:20_000])
    from mmengine.runner.checkpoint import CheckpointLoader
    with pytest.raises(zoo.CheckpointFileError, match=str(path)) as e:
        CheckpointLoader.load_checkpoint(str(path))
    assert 'save it again' in str(e.value) and '\n' not in str(e.value)
    m = AgentPVT(arch='tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(zoo.CheckpointFileError, match=str(path)):
        m.init_weights()


def test_unknown_option_in_a_zoo_url_lists_the_valid_ones(zoo_env, tmp_path):
    _serve(zoo_env, tmp_path)
    from mmengine.runner.checkpoint import CheckpointLoader
    with pytest.raises(zoo.ZooURLError, match=r"'target'='mmpretrian'.*"
                       r'target=backbone\|mmpretrain'):
        CheckpointLoader.load_checkpoint('mmagent://toy_in1k?target=mmpretrian')
    with pytest.raises(zoo.ZooURLError, match=r"unknown option 'trget'"):
        CheckpointLoader.load_checkpoint('mmagent://toy_in1k?trget=mmpretrain')
    assert zoo_env.server.requests == []


# -- no silent wrong load ---------------------------------------------------------------
@pytest.fixture(scope='module')
def swin_file(tmp_path_factory):
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('swin') / 'agent_swin_t.pth')
    torch.save({'model': published_classification_state(AgentSwinTransformer())}, path)
    return path


@pytest.mark.parametrize('cls', [AgentPVT, AgentCSWin])
def test_weights_of_another_family_are_refused(cls, swin_file):
    m = cls(arch='tiny', init_cfg=dict(type='Pretrained', checkpoint=swin_file))
    with pytest.raises(checkpoints.WrongWeightsError) as e:
        m.init_weights()
    msg = str(e.value)
    assert msg.startswith(f'{cls.__name__}: {swin_file} does not fit')
    assert 'best matching AgentSwinTransformer' in msg
    assert ' of its ' in msg and 'backbone tensors match' in msg


def test_zoo_weights_of_another_family_name_the_entry(zoo_env, swin_file):
    zoo_env('agent_swin_t_in1k', swin_file, collection='Agent-Swin')
    m = AgentPVT(
        init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_swin_t_in1k'))
    with pytest.raises(
            checkpoints.WrongWeightsError,
            match=r'AgentPVT: mmagent://agent_swin_t_in1k .*Agent-Swin '
            r'weights \(zoo entry agent_swin_t_in1k\).* 0 of'):
        m.init_weights()


def test_non_finite_weights_name_the_first_bad_key(zoo_env, tmp_path):
    torch.manual_seed(0)
    state = published_classification_state(AgentPVT())
    state['block2.0.mlp.fc1.weight'][0, 0] = float('nan')
    path = str(tmp_path / 'nan.pth')
    torch.save({'model': state}, path)
    m = AgentPVT(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(checkpoints.WrongWeightsError,
                       match=r'block2\.0\.mlp\.fc1\.weight holds NaN'):
        m.init_weights()
    zoo_env('nan_in1k', path)
    from mmengine.runner.checkpoint import CheckpointLoader
    with pytest.raises(
            checkpoints.WrongWeightsError, match=r'mmagent://nan_in1k: tensor '
            r'block2\.0\.mlp\.fc1\.weight holds NaN'):
        CheckpointLoader.load_checkpoint('mmagent://nan_in1k')


def test_errors_name_the_backbone_class():
    with pytest.raises(TypeError, match=r'^AgentPVT: unknown argument\(s\) agent_nm'):
        AgentPVT(agent_nm=[9, 16, 49, 49])
    with pytest.raises(ValueError, match=r'^FLattenPVT needs inputs of at least 32x32'):
        FLattenPVT()(torch.zeros(1, 3, 16, 16))
