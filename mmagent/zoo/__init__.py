"""mmagent's model zoo: the published weights by name, fetched, verified, converted.

>>> from mmagent.zoo import fetch
>>> path = fetch('agent_pvt_t_in1k')        # downloads once, then a cache hit

Configs can name zoo weights directly, e.g.
``init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_pvt_t_in1k')`` or
``load_from = 'mmagent://maskrcnn_agent_pvt_t_coco_1x'``.
"""
import os
import os.path as osp

from mmengine.runner.checkpoint import CheckpointLoader

from .convert import (UnsafeCheckpointError, convert_checkpoint, convert_file, family_of,
                      converted_path, safe_load)
from .download import (ChecksumError, DownloadError, cache_dir, download, sha256_of,
                       source_url)
from .hub import register_mmpretrain_models, register_when_mmpretrain_loads
from .index import ZooEntry, format_table, get_entry, load_index

SCHEME = 'mmagent://'


def fetch(name, dest=None, target='backbone', progress=True):
    """Download (if needed), verify and convert zoo weights; return the converted path.

    Args:
        name (str): A zoo name (``tools/download.py --list``).
        dest (str, optional): Folder; defaults to the cache (``$MMAGENT_HOME``).
        target (str): ``'backbone'`` (default; whole detectors/segmentors for
            downstream entries) or ``'mmpretrain'`` (ImageNet weights as an mmpretrain
            classifier).
    """
    entry = get_entry(name)
    raw = download(name, dest=dest, progress=progress)
    out = converted_path(raw, target)
    if not osp.exists(out) or osp.getmtime(out) < osp.getmtime(raw):
        convert_file(raw, out, entry.layout, target, family=family_of(entry))
    return out


@CheckpointLoader.register_scheme(prefixes=SCHEME, force=True)
def load_from_zoo(filename, map_location='cpu', logger=None):
    """MMEngine checkpoint loader for ``mmagent://NAME[?target=mmpretrain]``."""
    spec = filename[len(SCHEME):]
    name, _, query = spec.partition('?')
    target = 'mmpretrain' if query == 'target=mmpretrain' else 'backbone'
    path = fetch(name, target=target, progress=os.environ.get('MMAGENT_QUIET') != '1')
    return safe_load(path, map_location=map_location)


register_when_mmpretrain_loads()

__all__ = ['fetch', 'register_mmpretrain_models', 'download', 'load_index', 'get_entry', 'format_table', 'ZooEntry',
           'safe_load', 'convert_checkpoint', 'convert_file', 'cache_dir',
           'sha256_of', 'source_url', 'DownloadError', 'ChecksumError',
           'UnsafeCheckpointError', 'SCHEME']
