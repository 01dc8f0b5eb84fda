"""mmagent's model zoo: the published weights by name, fetched, verified, converted.

>>> from mmagent.zoo import fetch
>>> path = fetch('agent_pvt_t_in1k')        # downloads once, then a cache hit

Configs can name zoo weights directly, e.g.
``init_cfg=dict(type='Pretrained', checkpoint='mmagent://agent_pvt_t_in1k')`` or
``load_from = 'mmagent://maskrcnn_agent_pvt_t_coco_1x'``.
"""
import os
import os.path as osp
import urllib.parse

from mmengine.runner.checkpoint import CheckpointLoader

from mmagent.models.checkpoint import check_finite, unwrap_state_dict
from .convert import (UnsafeCheckpointError, convert_checkpoint, convert_file,
                      converted_path, family_of, safe_load)
from .download import (LOCK_TIMEOUT, CacheError, ChecksumError, DownloadError, cache_dir,
                       download, entry_lock, is_writable, record_sha256, recorded_sha256,
                       sha256_of, source_url)
from .hub import register_mmpretrain_models, register_when_mmpretrain_loads
from .index import ZooEntry, format_table, get_entry, load_index
from .loading import read_checkpoint  # (registers the weights_only loaders)
from .loading import CheckpointFileError, check_checkpoint_file  # noqa: F401

SCHEME = 'mmagent://'


class ZooURLError(ValueError):
    """An ``mmagent://`` URL names no zoo entry or has an unknown option."""


#: the options an ``mmagent://NAME?key=value`` URL takes, with their values
URL_OPTIONS = {'target': ('backbone', 'mmpretrain')}


def _converted_ok(name, raw, out, writable):
    """Whether ``out`` is the conversion of the verified ``raw``: its SHA-256 is the
    one recorded when it was made (timestamps are not trusted: copies lose them)."""
    if not osp.exists(out):
        want = None
    else:
        want = recorded_sha256(osp.dirname(out), osp.basename(out))
        if want is not None and sha256_of(out) == want:
            return True
        if want is None and not writable and osp.getmtime(out) >= osp.getmtime(raw):
            return True  # made by an earlier mmagent, which kept no record
    if writable:
        return False
    raise CacheError(
        f'{out} is {"missing" if not osp.exists(out) else "not the recorded conversion"}'
        f' and {osp.dirname(out)} is read-only: run `python tools/download.py {name}` '
        f'as the cache\'s owner, or set MMAGENT_HOME to a folder you can write')


def fetch(name, dest=None, target='backbone', progress=True, lock_timeout=LOCK_TIMEOUT):
    """Download (if needed), verify and convert zoo weights; return the converted path.

    Safe from many processes at once (one fetches and converts, the others wait).

    Args:
        name (str): A zoo name (``tools/download.py --list``).
        dest (str, optional): Folder; defaults to the cache (``$MMAGENT_HOME``).
        target (str): ``'backbone'`` (default; whole detectors/segmentors for
            downstream entries) or ``'mmpretrain'`` (ImageNet weights as an mmpretrain
            classifier).
        progress (bool): Draw a progress bar. Defaults to True.
        lock_timeout (float): Seconds to wait for another process's transfer or
            conversion. Defaults to :data:`~mmagent.zoo.download.LOCK_TIMEOUT`.
    """
    if target not in URL_OPTIONS['target']:
        raise ValueError(f'target must be one of {", ".join(URL_OPTIONS["target"])}, '
                         f'got {target!r}')
    entry = get_entry(name)
    raw = download(name, dest=dest, progress=progress, lock_timeout=lock_timeout)
    out = converted_path(raw, target)
    directory = osp.dirname(out)
    if _converted_ok(name, raw, out, is_writable(directory)):
        return out
    with entry_lock(directory, osp.basename(out), lock_timeout):
        if not _converted_ok(name, raw, out, True):
            convert_file(raw, out, entry.layout, target, family=family_of(entry))
            record_sha256(directory, osp.basename(out), sha256_of(out))
    return out


def parse_zoo_url(filename):
    """``mmagent://NAME?key=value`` -> (NAME, options); an unknown option or value is
    an error listing the valid ones."""
    name, _, query = filename[len(SCHEME):].partition('?')
    valid = '; '.join(f'{k}={"|".join(v)}' for k, v in URL_OPTIONS.items())
    options = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key not in URL_OPTIONS or value not in URL_OPTIONS[key] or key in options:
            what = 'repeated option' if key in options else (
                'unknown option' if key not in URL_OPTIONS else 'unknown value of')
            raise ZooURLError(f'{filename}: {what} {key!r}={value!r}; valid '
                              f'options: {valid}')
        options[key] = value
    if query and not options:
        raise ZooURLError(f'{filename}: cannot read the options {query!r}; valid '
                          f'options: {valid}')
    try:
        get_entry(name)  # an unknown name is an error before anything else
    except KeyError as e:
        raise ZooURLError(f'{filename}: {e.args[0]}') from None
    return name, options


@CheckpointLoader.register_scheme(prefixes=SCHEME, force=True)
def load_from_zoo(filename, map_location='cpu', logger=None):
    """MMEngine checkpoint loader for ``mmagent://NAME[?target=mmpretrain]``."""
    name, options = parse_zoo_url(filename)
    path = fetch(name, target=options.get('target', 'backbone'),
                 progress=os.environ.get('MMAGENT_QUIET') != '1')
    checkpoint = read_checkpoint(path, map_location=map_location)
    check_finite(unwrap_state_dict(checkpoint, filename), filename)
    return checkpoint


register_when_mmpretrain_loads()

__all__ = [
    'fetch', 'register_mmpretrain_models', 'download', 'load_index', 'get_entry',
    'format_table', 'ZooEntry', 'safe_load', 'read_checkpoint', 'check_checkpoint_file',
    'parse_zoo_url', 'convert_checkpoint', 'convert_file', 'cache_dir', 'sha256_of',
    'source_url', 'DownloadError', 'ChecksumError', 'CacheError', 'CheckpointFileError',
    'UnsafeCheckpointError', 'ZooURLError', 'SCHEME', 'URL_OPTIONS'
]
