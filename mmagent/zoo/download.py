"""Fetch zoo weights by name: cached, resumable, verified, never half-written.

* Files go to ``$MMAGENT_HOME`` (default ``~/.cache/mmagent``) or ``dest``.
* One transfer per file, whatever the number of processes: the fetch, the check, the
  record of its hash and the final rename happen under a lock on the cache entry
  (``<cache>/.locks/<file>.lock``, :mod:`filelock`). Every rank of a distributed run
  asks for the file; the first takes the lock and fetches, the others wait on the
  lock (``lock_timeout``) and then find the verified file. The operating system
  releases the lock of a process that dies, so a crash never leaves it held.
* A transfer writes ``<file>.part`` and renames it (atomically) only once complete and
  verified, so no half file ever sits where a finished one is expected. A broken
  transfer keeps the ``.part`` and, in ``<file>.part.json``, the validator of the
  response it came from (ETag, Last-Modified, length). The next call resumes it with
  an HTTP Range request carrying ``If-Range``, so the server appends only to the same
  file; when the file changed (or the server sends no validator, or no ranges) the
  transfer starts over.
* Integrity: when the index has a SHA-256, a mismatch is an error and the file is
  discarded. When it has none, the hash of the first complete fetch is recorded in
  ``<cache>/sha256.json`` and every later fetch or cache hit is checked against it.
* A read-only shared cache (filled beforehand with ``tools/download.py NAME``) is read
  without writing anything; what cannot be checked there is a one-line error.
* ``MMAGENT_MIRROR=https://host/path`` fetches ``<mirror>/<file name>`` instead of the
  published URL, for users behind firewalls.
"""
import contextlib
import hashlib
import http.client
import json
import os
import os.path as osp
import sys
import time
import urllib.error
import urllib.request

import filelock

from .index import get_entry

CHUNK = 1 << 20
#: seconds a process waits for another one's transfer of the same file
LOCK_TIMEOUT = 3600.


class DownloadError(RuntimeError):
    """A fetch failed; the message names the URL and what went wrong."""


class ChecksumError(DownloadError):
    """The file's SHA-256 differs from the index or from the first fetch."""


class CacheError(DownloadError):
    """The cache folder cannot be used as it is; the message says what to do."""


def cache_dir():
    return os.environ.get('MMAGENT_HOME') or osp.join(
        osp.expanduser('~'), '.cache', 'mmagent')


def source_url(entry):
    mirror = os.environ.get('MMAGENT_MIRROR')
    if mirror:
        return mirror.rstrip('/') + '/' + entry.file_name
    if not entry.url:
        raise DownloadError(f'{entry.name}: the authors did not publish these weights '
                            f'(model_zoo.md says "not published")')
    return entry.url


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(CHUNK), b''):
            h.update(block)
    return h.hexdigest()


# -- the cache folder -------------------------------------------------------------------
def _folder_label(directory):
    if directory == os.environ.get('MMAGENT_HOME'):
        return f'MMAGENT_HOME={directory}'
    return directory


def is_writable(directory):
    """Whether files can be created in ``directory`` (tried, not guessed)."""
    try:
        fd, probe = _mkstemp(directory)
    except OSError:
        return False
    os.close(fd)
    os.remove(probe)
    return True


def _mkstemp(directory):
    import tempfile
    return tempfile.mkstemp(prefix='.probe-', dir=directory)


def ensure_writable(directory, name):
    """Create ``directory`` if needed; a :class:`CacheError` naming it and what to do
    when nothing can be written there. Called before any transfer starts."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        reason = e.strerror or type(e).__name__
    else:
        if is_writable(directory):
            return
        reason = 'no permission to write there'
    raise CacheError(
        f'{_folder_label(directory)} is not a writable folder ({reason}): set '
        f'MMAGENT_HOME to a folder you can write, or fetch {name} into this one first '
        f'with `python tools/download.py {name}` as a user who can')


@contextlib.contextmanager
def entry_lock(directory, file_name, timeout=LOCK_TIMEOUT):
    """Hold the lock of the cache entry ``file_name`` (waiting at most ``timeout`` s)."""
    locks = osp.join(directory, '.locks')
    os.makedirs(locks, exist_ok=True)
    path = osp.join(locks, file_name + '.lock')
    lock = filelock.FileLock(path, timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise DownloadError(
            f'{osp.join(directory, file_name)}: another process has been fetching it '
            f'for {timeout:.0f} s (it holds {path}); wait for it, or pass a longer '
            f'lock_timeout') from None
    try:
        yield
    finally:
        lock.release()


# -- the hash records -------------------------------------------------------------------
def _records_path(directory):
    return osp.join(directory, 'sha256.json')


def _read_records(directory):
    try:
        with open(_records_path(directory)) as f:
            records = json.load(f)
    except (FileNotFoundError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def recorded_sha256(directory, file_name):
    return _read_records(directory).get(file_name)


def record_sha256(directory, file_name, digest):
    """Add ``file_name: digest`` to the folder's record (under the folder's lock, so
    processes recording different files lose none)."""
    path = _records_path(directory)
    with entry_lock(directory, 'sha256.json'):
        records = _read_records(directory)
        records[file_name] = digest
        tmp = path + f'.{os.getpid()}.tmp'
        with open(tmp, 'w') as f:
            json.dump(records, f, indent=1, sort_keys=True)
        os.replace(tmp, path)


_record_sha256 = record_sha256  # the earlier private name


def expected_sha256(entry, directory):
    """The hash a file must have: the index's, else the first fetch's, else None."""
    return entry.sha256 or recorded_sha256(directory, entry.file_name)


# -- one transfer ------------------------------------------------------------------------
class _Progress:

    def __init__(self, total, label, enabled):
        self.total, self.label, self.enabled = total, label, enabled
        self.last = 0.

    def __call__(self, done, final=False):
        if not self.enabled or (not final and time.monotonic() - self.last < 0.2):
            return
        self.last = time.monotonic()
        if self.total:
            bar = '#' * int(30 * done / self.total)
            msg = (f'\r{self.label} [{bar:<30}] {done / 2**20:7.1f}/'
                   f'{self.total / 2**20:.1f} MiB')
        else:
            msg = f'\r{self.label} {done / 2**20:7.1f} MiB'
        sys.stderr.write(msg + ('\n' if final else ''))
        sys.stderr.flush()


def _validator_of(resp, total):
    """What identifies the file a response sends: a strong ETag or Last-Modified, and
    its length. None when the server gives neither (such a transfer is not resumed)."""
    etag = resp.headers.get('ETag')
    if etag and etag.startswith('W/'):
        etag = None  # a weak ETag may not be used in If-Range
    modified = resp.headers.get('Last-Modified')
    if not etag and not modified:
        return None
    return dict(etag=etag, last_modified=modified, length=total)


def _read_validator(part):
    try:
        with open(part + '.json') as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def _discard(part):
    for path in (part, part + '.json'):
        if osp.exists(path):
            os.remove(path)


def _resumable(part, url):
    """(bytes to keep, validator) of a ``.part`` left by an earlier attempt."""
    validator = _read_validator(part) if osp.exists(part) else None
    if validator is None or validator.get('url') != url:
        _discard(part)
        return 0, None
    return osp.getsize(part), validator


def _same_file(resp, validator, have):
    """Whether a 206 answer continues the file ``validator`` describes at ``have``."""
    rng = resp.headers.get('Content-Range', '')
    try:
        span, total = rng.split(' ', 1)[1].split('/')
        start = int(span.split('-')[0])
    except (IndexError, ValueError):
        return False
    if start != have or (validator.get('length') is not None
                         and total != str(validator['length'])):
        return False
    etag = resp.headers.get('ETag')
    return not (etag and validator.get('etag') and etag != validator['etag'])


def _open(url, have, validator, timeout):
    req = urllib.request.Request(url, headers={'User-Agent': 'mmagent'})
    if have:
        req.add_header('Range', f'bytes={have}-')
        req.add_header('If-Range', validator.get('etag') or validator['last_modified'])
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            return None  # the part is no prefix of the file: start over
        raise DownloadError(f'{url}: server answered HTTP {e.code} {e.reason}') from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, 'reason', e)
        raise DownloadError(f'{url}: cannot connect ({reason})') from None


def _fetch(url, part, progress=True, timeout=60):
    """Download ``url`` into ``part``, resuming what an earlier attempt left there when
    it is still the same file. Returns the bytes the part holds."""
    have, validator = _resumable(part, url)
    if have and validator.get('length') == have:
        return have  # complete already; the hash check decides
    resp = _open(url, have, validator, timeout)
    if resp is not None and have and not (resp.status == 206
                                          and _same_file(resp, validator, have)):
        if resp.status == 206:  # a range of some other file: ask for the whole one
            resp.close()
            resp = None
        have = 0  # a 200 answer is the whole (possibly new) file
    if resp is None:
        _discard(part)
        have, resp = 0, _open(url, 0, None, timeout)
    with resp:
        return _receive(url, resp, part, have, progress)


def _receive(url, resp, part, have, progress):
    length = resp.headers.get('Content-Length')
    total = have + int(length) if length is not None else None
    if not have:
        _discard(part)
        validator = _validator_of(resp, total)
        if validator is not None:
            with open(part + '.json', 'w') as f:
                json.dump(dict(validator, url=url), f)
    done = have
    bar = _Progress(total, osp.basename(part)[:-5], progress)
    with open(part, 'ab' if have else 'wb') as f:
        try:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                f.write(block)
                done += len(block)
                bar(done)
        except (OSError, urllib.error.URLError, http.client.HTTPException) as e:
            raise DownloadError(
                f'{url}: transfer broke off after {done} bytes ({e}); run again to '
                f'resume') from None
    bar(done, final=True)
    if total is not None and done < total:
        raise DownloadError(f'{url}: transfer broke off after {done} of {total} bytes; '
                            f'run again to resume')
    return done


# -- a zoo file --------------------------------------------------------------------------
def _cache_hit(entry, directory, final, writable):
    """``final`` when it is there and verified, None when it must be fetched (again).

    Raises :class:`CacheError` / :class:`ChecksumError` where the folder is read-only
    and the file cannot be checked or replaced."""
    if not osp.exists(final):
        return None
    want = expected_sha256(entry, directory)
    digest = sha256_of(final)
    if want is None:
        if not writable:
            raise CacheError(
                f'{final} cannot be verified: {_records_path(directory)} is missing or '
                f'lacks it, and {_folder_label(directory)} is read-only. Run `python '
                f'tools/download.py {entry.name}` as the cache\'s owner (it records the '
                f'hash), or set MMAGENT_HOME to a folder you can write')
        record_sha256(directory, entry.file_name, digest)
        return final
    if digest == want:
        return final
    if not writable:
        raise ChecksumError(
            f'{final} has SHA-256 {digest}, expected {want}, and '
            f'{_folder_label(directory)} is read-only: ask the cache\'s owner to run '
            f'`python tools/download.py {entry.name}`, or set MMAGENT_HOME to a folder '
            f'you can write')
    return None


def _transfer(entry, directory, final, progress, retries):
    """Fetch, verify, record and rename; the caller holds the entry's lock."""
    if osp.exists(final):
        os.remove(final)  # damaged or replaced: fetch it again
    url = source_url(entry)
    part = final + '.part'
    for attempt in range(retries + 1):
        try:
            _fetch(url, part, progress=progress)
            break
        except DownloadError:
            if attempt == retries:
                raise
    digest = sha256_of(part)
    want = expected_sha256(entry, directory)
    if want is not None and digest != want:
        _discard(part)
        raise ChecksumError(f'{entry.name}: {url} gave a file with SHA-256 {digest}, '
                            f'expected {want}; the download was discarded')
    if want is None:
        record_sha256(directory, entry.file_name, digest)
    os.replace(part, final)
    _discard(part)
    return final


def download(name, dest=None, progress=True, retries=1, lock_timeout=LOCK_TIMEOUT):
    """Fetch the zoo file ``name`` (verified) and return its path.

    A no-op when the file is already there and matches its known hash; a read-only
    folder is then only read. Safe to call from many processes at once: one fetches,
    the others wait for it (at most ``lock_timeout`` seconds) and find the file.

    Args:
        name (str): A zoo name.
        dest (str, optional): Folder; defaults to the cache (``$MMAGENT_HOME``).
        progress (bool): Draw a progress bar on stderr. Defaults to True.
        retries (int): Further attempts after a broken transfer. Defaults to 1.
        lock_timeout (float): Seconds to wait for another process's transfer.
            Defaults to :data:`LOCK_TIMEOUT` (an hour).
    """
    entry = get_entry(name)
    directory = dest or cache_dir()
    final = osp.join(directory, entry.file_name)
    writable = osp.isdir(directory) and is_writable(directory)
    hit = _cache_hit(entry, directory, final, writable)
    if hit is not None:
        return hit
    ensure_writable(directory, name)
    with entry_lock(directory, entry.file_name, lock_timeout):
        hit = _cache_hit(entry, directory, final, True)  # fetched while we waited?
        if hit is not None:
            return hit
        return _transfer(entry, directory, final, progress, retries)
