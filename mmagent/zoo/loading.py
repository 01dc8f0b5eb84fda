"""Every checkpoint MMEngine loads for mmagent is read with ``weights_only=True``.

MMEngine's ``CheckpointLoader`` reads local files, URLs and ``torchvision://`` /
``open-mmlab://`` names with a bare ``torch.load``, which inherits PyTorch's default
and so obeys ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (a file could then run code while
it loads). ``init_cfg=dict(type='Pretrained', ...)``, ``load_from``, ``resume`` and the
tools all go through that loader, so on import mmagent registers its own loaders for
those schemes (MMEngine's public ``register_scheme``): the same files, found the same
way, read by :func:`read_checkpoint` with ``weights_only=True`` passed explicitly, which
no environment variable overrides.

:func:`read_checkpoint` also turns what ``torch.load`` says about a missing, truncated
or damaged file (which does not name it) into one line naming the file.
"""
import os
import os.path as osp
import zipfile

import torch
from mmengine.dist import get_dist_info
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .convert import safe_load

__all__ = ['CheckpointFileError', 'read_checkpoint', 'check_checkpoint_file']


class CheckpointFileError(ValueError):
    """A checkpoint file is missing, truncated or not a PyTorch checkpoint."""


def check_checkpoint_file(path):
    """Cheap checks before any work: the file exists and is a whole zip archive (what
    ``torch.save`` writes); raises :class:`CheckpointFileError` naming it."""
    path = osp.expanduser(path)
    if not osp.isfile(path):
        where = 'a folder' if osp.isdir(path) else 'no such file'
        raise CheckpointFileError(f'checkpoint {path}: {where}; give the path of a .pth '
                                  f'file, a URL or mmagent://NAME')
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip() if osp.getsize(path) < (64 << 20) else None
        except (zipfile.BadZipFile, OSError) as e:
            bad = str(e)
        if bad is None:
            return path
        raise CheckpointFileError(f'checkpoint {path} is damaged (bad member {bad}); '
                                  f'download or save it again')
    with open(path, 'rb') as f:
        head = f.read(2)
    if head[:1] != b'\x80':  # neither a zip archive nor a legacy pickle
        raise CheckpointFileError(
            f'checkpoint {path} is not a complete PyTorch checkpoint (truncated, or '
            f'another kind of file); download or save it again')
    return path


def read_checkpoint(path, map_location='cpu'):
    """``torch.load(path, weights_only=True)`` with one-line errors naming the file.

    Raises:
        CheckpointFileError: missing, truncated or damaged file.
        UnsafeCheckpointError: the file needs code to load (it is not run).
    """
    path = check_checkpoint_file(path)
    try:
        return safe_load(path, map_location=map_location)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        if type(e).__name__ == 'UnsafeCheckpointError':
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointFileError(
            f'checkpoint {path} cannot be read ({first.strip()}): it is truncated or '
            f'damaged; download or save it again') from None


def load_from_local(filename, map_location=None):
    """MMEngine loader for local paths, ``weights_only=True``."""
    return read_checkpoint(filename, map_location=map_location)


def load_from_http(filename, map_location=None, model_dir=None):
    """MMEngine loader for URLs: rank 0 downloads first (as MMEngine's does), then
    every rank reads the cached file with ``weights_only=True``."""
    rank, world_size = get_dist_info()

    def load():
        return torch.hub.load_state_dict_from_url(
            filename, model_dir=model_dir, map_location=map_location,
            progress=os.environ.get('MMAGENT_QUIET') != '1', weights_only=True)

    checkpoint = load() if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


def load_from_torchvision(filename, map_location=None):
    """``torchvision://NAME`` (and the old ``modelzoo://NAME``), ``weights_only``."""
    name = filename.split('://', 1)[1]
    url = mmengine_checkpoint.get_torchvision_models()[name]
    return load_from_http(url, map_location=map_location)


def load_from_openmmlab(filename, map_location=None):
    """``open-mmlab://NAME`` / ``openmmlab://NAME``, ``weights_only``."""
    name = filename.split('://', 1)[1]
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    url = mmengine_checkpoint.get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location=map_location)
    return read_checkpoint(
        osp.join(mmengine_checkpoint._get_mmengine_home(), url),
        map_location=map_location)


def load_from_mmcls(filename, map_location=None):
    """``mmcls://NAME``, ``weights_only``."""
    url = mmengine_checkpoint.get_mmcls_models()[filename[len('mmcls://'):]]
    return mmengine_checkpoint._process_mmcls_checkpoint(
        load_from_http(url, map_location=map_location))


def register_safe_loaders():
    """Put the loaders above in place of MMEngine's for these schemes."""
    for prefixes, loader in [('', load_from_local),
                             (('http://', 'https://'), load_from_http),
                             (('modelzoo://', 'torchvision://'), load_from_torchvision),
                             (('open-mmlab://', 'openmmlab://'), load_from_openmmlab),
                             ('mmcls://', load_from_mmcls)]:
        CheckpointLoader.register_scheme(prefixes, loader, force=True)


register_safe_loaders()
