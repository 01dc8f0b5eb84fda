"""Fetch zoo weights by name: cached, resumable, verified, never half-written.

* Files go to ``$MMAGENT_HOME`` (default ``~/.cache/mmagent``) or ``dest``.
* A transfer writes ``<file>.part`` and renames it only once complete and verified, so
  no half file ever sits where a finished one is expected. A broken transfer keeps the
  ``.part``; the next call resumes it with an HTTP Range request (or restarts it when
  the server does not support ranges).
* Integrity: when the index has a SHA-256, a mismatch is an error and the file is
  discarded. When it has none, the hash of the first complete fetch is recorded in
  ``<cache>/sha256.json`` and every later fetch or cache hit is checked against it.
* ``MMAGENT_MIRROR=https://host/path`` fetches ``<mirror>/<file name>`` instead of the
  published URL, for users behind firewalls.
"""
import hashlib
import http.client
import json
import os
import os.path as osp
import sys
import time
import urllib.error
import urllib.request

from .index import get_entry

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A fetch failed; the message names the URL and what went wrong."""


class ChecksumError(DownloadError):
    """The file's SHA-256 differs from the index or from the first fetch."""


def cache_dir():
    return os.environ.get('MMAGENT_HOME') or osp.join(osp.expanduser('~'), '.cache',
                                                      'mmagent')


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


def _records_path(directory):
    return osp.join(directory, 'sha256.json')


def recorded_sha256(directory, file_name):
    try:
        with open(_records_path(directory)) as f:
            return json.load(f).get(file_name)
    except (FileNotFoundError, ValueError):
        return None


def _record_sha256(directory, file_name, digest):
    path = _records_path(directory)
    try:
        with open(path) as f:
            records = json.load(f)
    except (FileNotFoundError, ValueError):
        records = {}
    records[file_name] = digest
    tmp = path + f'.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(records, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def expected_sha256(entry, directory):
    """The hash a file must have: the index's, else the first fetch's, else None."""
    return entry.sha256 or recorded_sha256(directory, entry.file_name)


class _Progress:

    def __init__(self, total, label, enabled):
        self.total, self.label, self.enabled = total, label, enabled
        self.last = 0.

    def __call__(self, done, final=False):
        if not self.enabled or (not final and time.monotonic() - self.last < 0.2):
            return
        self.last = time.monotonic()
        if self.total:
            frac = done / self.total
            bar = '#' * int(30 * frac)
            msg = f'\r{self.label} [{bar:<30}] {done / 2**20:7.1f}/{self.total / 2**20:.1f} MiB'
        else:
            msg = f'\r{self.label} {done / 2**20:7.1f} MiB'
        sys.stderr.write(msg + ('\n' if final else ''))
        sys.stderr.flush()


def _fetch(url, part, progress=True, timeout=60):
    """Download ``url`` into ``part``, resuming what is there. Returns bytes written."""
    have = osp.getsize(part) if osp.exists(part) else 0
    req = urllib.request.Request(url, headers={'User-Agent': 'mmagent'})
    if have:
        req.add_header('Range', f'bytes={have}-')
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # our partial file is already whole (or bogus)
            return have
        raise DownloadError(f'{url}: server answered HTTP {e.code} {e.reason}') from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, 'reason', e)
        raise DownloadError(f'{url}: cannot connect ({reason})') from None
    with resp:
        if have and resp.status == 206:
            mode, done = 'ab', have
        else:  # 200: the server sends the whole file again
            mode, done = 'wb', 0
        length = resp.headers.get('Content-Length')
        total = done + int(length) if length is not None else None
        bar = _Progress(total, osp.basename(part)[:-5], progress)
        with open(part, mode) as f:
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


def download(name, dest=None, progress=True, retries=1):
    """Fetch the zoo file ``name`` (verified) and return its path.

    A no-op when the file is already there and matches its known hash.
    """
    entry = get_entry(name)
    directory = dest or cache_dir()
    os.makedirs(directory, exist_ok=True)
    final = osp.join(directory, entry.file_name)
    # A destination folder other than the cache keeps its own record.
    want = expected_sha256(entry, directory)
    if osp.exists(final):
        digest = sha256_of(final)
        if want is None:
            _record_sha256(directory, entry.file_name, digest)
            return final
        if digest == want:
            return final
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
    if want is not None and digest != want:
        os.remove(part)
        raise ChecksumError(f'{entry.name}: {url} gave a file with SHA-256 {digest}, '
                            f'expected {want}; the download was discarded')
    if want is None:
        _record_sha256(directory, entry.file_name, digest)
    os.replace(part, final)
    return final
