import hashlib
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch

from mmagent import zoo
from tests.conftest import ROOT


def _tensor_file(tmp_path, name='w.pth', seed=0, size=300_000):
    g = torch.Generator().manual_seed(seed)
    path = str(tmp_path / name)
    torch.save({'model': {'w': torch.randn(size, generator=g)}}, path)
    return path


def _sha(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _left(cache):
    """What a cache folder holds besides its lock files (``.locks/``)."""
    return sorted(n for n in os.listdir(cache) if n != '.locks')


def test_download_then_cache_hit(zoo_env, tmp_path):
    served = zoo_env('toy_in1k', _tensor_file(tmp_path))
    path = zoo.download('toy_in1k', progress=False)
    assert path == osp.join(zoo_env.cache, 'toy_in1k.pth')
    assert _sha(path) == _sha(served)
    assert zoo.download('toy_in1k', progress=False) == path
    assert len(zoo_env.server.requests) == 1  # the second call was a verified cache hit
    # The first fetch's hash was recorded.
    assert zoo.download.__module__  # noqa
    from mmagent.zoo.download import recorded_sha256
    assert recorded_sha256(zoo_env.cache, 'toy_in1k.pth') == _sha(served)


def test_mirror_replaces_the_host(zoo_env, tmp_path, monkeypatch):
    served = zoo_env('toy_in1k', _tensor_file(tmp_path),
                     url='http://127.0.0.1:9/unreachable/?dl=1')
    monkeypatch.setenv('MMAGENT_MIRROR', zoo_env.server.url('').rstrip('/'))
    path = zoo.download('toy_in1k', progress=False)
    assert _sha(path) == _sha(served)
    assert zoo_env.server.requests == [('toy_in1k.pth', None)]


def test_truncated_transfer_leaves_no_file_and_resumes(zoo_env, tmp_path):
    served = zoo_env('toy_in1k', _tensor_file(tmp_path))
    zoo_env.server.fault('toy_in1k.pth', truncate_after=100_000, times=1)
    final = osp.join(zoo_env.cache, 'toy_in1k.pth')
    with pytest.raises(zoo.DownloadError, match='broke off'):
        zoo.download('toy_in1k', progress=False, retries=0)
    assert not osp.exists(final)
    assert osp.getsize(final + '.part') == 100_000
    path = zoo.download('toy_in1k', progress=False, retries=0)
    assert _sha(path) == _sha(served)
    assert zoo_env.server.requests[-1] == ('toy_in1k.pth', 'bytes=100000-')
    assert not osp.exists(final + '.part')


def test_server_without_ranges_restarts(tmp_path, monkeypatch):
    from mmagent.testing.http_server import FileServer
    with FileServer(str(tmp_path / 'srv'), ranges=False) as srv:
        src = _tensor_file(tmp_path)
        os.replace(src, osp.join(srv.root, 'x.pth'))
        part = tmp_path / 'x.pth.part'
        part.write_bytes(b'garbage from an old attempt')
        from mmagent.zoo.download import _fetch
        _fetch(srv.url('x.pth'), str(part), progress=False)
        assert _sha(str(part)) == _sha(osp.join(srv.root, 'x.pth'))


def test_server_error_is_reported_and_nothing_left(zoo_env, tmp_path):
    zoo_env('toy_in1k', _tensor_file(tmp_path))
    zoo_env.server.fault('toy_in1k.pth', status=500)
    with pytest.raises(zoo.DownloadError, match='HTTP 500') as e:
        zoo.download('toy_in1k', progress=False)
    assert zoo_env.server.url('toy_in1k.pth') in str(e.value)
    assert _left(zoo_env.cache) == []


def test_wrong_hash_in_index_discards_the_file(zoo_env, tmp_path):
    zoo_env('toy_in1k', _tensor_file(tmp_path), sha256='0' * 64)
    with pytest.raises(zoo.ChecksumError, match='expected 0000'):
        zoo.download('toy_in1k', progress=False)
    assert _left(zoo_env.cache) == []


def test_changed_file_fails_against_the_first_fetch(zoo_env, tmp_path):
    served = zoo_env('toy_in1k', _tensor_file(tmp_path))
    first = zoo.download('toy_in1k', progress=False)
    os.remove(first)
    torch.save({'model': {
        'w': torch.zeros(3)
    }}, served)  # the host now serves other bytes
    with pytest.raises(zoo.ChecksumError):
        zoo.download('toy_in1k', progress=False)
    assert not osp.exists(first)


def test_unpublished_weights_are_named(zoo_env, tmp_path, monkeypatch):
    zoo_env('toy_in1k', _tensor_file(tmp_path))
    from mmagent.zoo.index import load_index
    entry = load_index()['toy_in1k']
    import dataclasses
    with pytest.raises(zoo.DownloadError, match='not publish'):
        zoo.source_url(dataclasses.replace(entry, url=None))
    with pytest.raises(KeyError, match='toy_in1k'):
        zoo.get_entry('toy_in1kk')


class _Exploit:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_pickle_that_runs_code_is_refused(zoo_env, tmp_path):
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    with open(evil, 'wb') as f:
        pickle.dump({'model': {'w': torch.zeros(2)}, 'x': _Exploit(marker)}, f)
    zoo_env('evil_in1k', str(evil))
    with pytest.raises(zoo.UnsafeCheckpointError, match='refused'):
        zoo.fetch('evil_in1k', progress=False)
    assert not marker.exists()
    # Through MMEngine's loader (the mmagent:// scheme), the same.
    from mmengine.runner.checkpoint import CheckpointLoader
    with pytest.raises(zoo.UnsafeCheckpointError):
        CheckpointLoader.load_checkpoint('mmagent://evil_in1k')
    assert not marker.exists()


def test_download_tool_list_and_sha256(zoo_env, tmp_path):
    served = zoo_env('toy_in1k', _tensor_file(tmp_path))
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([
        sys.executable, 'tools/download.py', 'toy_in1k', '--sha256', '--no-convert',
        '--quiet', '--dest',
        str(tmp_path / 'd')
    ], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == _sha(served)
    listing = subprocess.run([sys.executable, 'tools/download.py', '--list'], cwd=ROOT,
                             env=env, capture_output=True, text=True, check=True)
    assert 'toy_in1k' in listing.stdout
    bad = subprocess.run([sys.executable, 'tools/download.py', 'nope'], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and 'no model named' in bad.stderr


def test_real_index_lists_every_published_result():
    index = zoo.load_index(osp.join(ROOT, 'configs', 'metafile.yml'))
    # 36 Agent Attention results + 5 higher-resolution ImageNet variants + 9 MLLA files
    # + 2 Agent-CSwin dense configs with no published weights or results
    # + 7 FLatten ImageNet files + 4 FLatten dense configs (no published weights)
    # + 22 DAT++ files (4 ImageNet, 12 COCO, 6 ADE20K)
    assert len(index) == 85
    assert sum(e.collection == 'DAT++' and e.published for e in index.values()) == 22
    assert sum(e.collection == 'FLatten' and e.published for e in index.values()) == 7
    assert sum(e.collection == "MLLA" and e.published for e in index.values()) == 9
    for e in index.values():
        assert e.file_name.endswith('.pth') and e.sha256 is None or len(e.sha256) == 64
        if e.config:
            assert osp.isfile(e.config_path), e.config
    assert not index['upernet_agent_swin_s_ade20k_160k'].published
    for name in ('maskrcnn_agent_cswin_t_coco_1x', 'upernet_agent_cswin_t_ade20k_160k',
                 'maskrcnn_flatten_pvt_t_coco_1x', 'upernet_flatten_swin_t_ade20k_160k'):
        assert not index[name].published and not index[name].metrics
        assert 'no downstream weights' in index[name].extra['Note']
    assert index['maskrcnn_agent_pvt_t_coco_1x'].metrics == {
        'box AP': 41.4,
        'mask AP': 38.7
    }


def test_readme_zoo_table_is_generated_from_the_index():
    table = zoo.format_table(
        zoo.load_index(osp.join(ROOT, 'configs', 'metafile.yml')), markdown=True)
    readme = open(osp.join(ROOT, 'README.md')).read()
    assert table in readme
