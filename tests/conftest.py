"""Shared fixtures: an isolated zoo (metafile, cache) and a local HTTP file server."""
import os.path as osp
import shutil

import pytest
import yaml

from mmagent.testing.http_server import FileServer

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture
def file_server(tmp_path):
    with FileServer(str(tmp_path / 'served')) as srv:
        yield srv


@pytest.fixture
def zoo_env(tmp_path, monkeypatch, file_server):
    """A metafile whose entries point at the local server, and an empty cache.

    Returns a function ``add(name, payload_path_or_bytes, layout='timm',
    collection='Agent-PVT', config=None, sha256=None)`` that serves a file and lists
    it in the index.
    """
    metafile = tmp_path / 'metafile.yml'
    models = []
    monkeypatch.setenv('MMAGENT_METAFILE', str(metafile))
    monkeypatch.setenv('MMAGENT_HOME', str(tmp_path / 'cache'))
    monkeypatch.setenv('MMAGENT_QUIET', '1')
    monkeypatch.delenv('MMAGENT_MIRROR', raising=False)

    def add(name, payload, layout='timm', collection='Agent-PVT', config=None,
            sha256=None, url=None):
        file_name = f'{name}.pth'
        dst = osp.join(file_server.root, file_name)
        if isinstance(payload, bytes):
            with open(dst, 'wb') as f:
                f.write(payload)
        else:
            shutil.copy(payload, dst)
        models.append({
            'Name': name,
            'In Collection': collection,
            'Config': config,
            'Metadata': {
                'Checkpoint Layout': layout
            },
            'Weights': url or file_server.url(file_name),
            'File': file_name,
            'SHA256': sha256
        })
        with open(metafile, 'w') as f:
            yaml.safe_dump({'Models': models}, f)
        return dst

    add.server = file_server
    add.cache = str(tmp_path / 'cache')
    return add
