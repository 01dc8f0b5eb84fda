"""A real HTTP file server on 127.0.0.1 for download tests.

It serves the files of one folder, honours ``Range`` requests (206) and ``If-Range``
(a range only while the file still has the validator the client names; the whole file
otherwise), sends an ``ETag`` and ``Last-Modified`` for each file, logs every request,
and can be told to misbehave per path: answer an error status, cut the body short after
N bytes while announcing the full length, or send it slowly.
"""
import email.utils
import os
import os.path as osp
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def etag_of(path):
    """The file's ETag as the server sends it: its modification time and size."""
    st = os.stat(path)
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


class _Handler(BaseHTTPRequestHandler):
    server_version = 'mmagent-test'

    def log_message(self, *args):  # keep test output clean
        pass

    def _range_start(self, path, size):
        """Where the body starts: 0 for the whole file, else the Range's start."""
        srv = self.server
        rng = self.headers.get('Range')
        if not (rng and rng.startswith('bytes=') and srv.ranges):
            return 0
        if_range = self.headers.get('If-Range')
        if if_range and if_range not in (etag_of(path), self._last_modified(path)):
            return 0  # the file changed since the client's first request
        return int(rng[6:].split('-')[0])

    @staticmethod
    def _last_modified(path):
        return email.utils.formatdate(os.stat(path).st_mtime, usegmt=True)

    def do_GET(self):  # noqa: N802
        srv = self.server
        name = self.path.split('?')[0].lstrip('/')
        srv.requests.append((name, self.headers.get('Range')))
        srv.headers_seen.append(dict(self.headers))
        fault = srv.faults.get(name) or {}
        if fault.get('status'):
            self.send_error(fault['status'])
            return
        path = osp.join(srv.root, name)
        if not osp.isfile(path):
            self.send_error(404)
            return
        with open(path, 'rb') as f:
            data = f.read()
        start = self._range_start(path, len(data))
        if start >= len(data) and start:
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header('Content-Range',
                             f'bytes {start}-{len(data) - 1}/{len(data)}')
        if srv.validators:
            self.send_header('ETag', etag_of(path))
            self.send_header('Last-Modified', self._last_modified(path))
        body = data[start:]
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        cut = fault.get('truncate_after')
        if cut is not None and fault.get('times', 1) > 0:
            fault['times'] = fault.get('times', 1) - 1
            body = body[:cut]
            self.close_connection = True
        self._send(body, fault.get('chunk'), fault.get('delay', 0.))
        if cut is None or len(body) == len(data) - start:
            srv.completed.append(name)

    def _send(self, body, chunk, delay):
        chunk = chunk or len(body) or 1
        for i in range(0, len(body), chunk):
            self.wfile.write(body[i:i + chunk])
            self.wfile.flush()
            if delay:
                time.sleep(delay)


class FileServer:
    """``with FileServer(folder) as srv: srv.url('x.pth')``.

    Args:
        root (str): The folder served.
        ranges (bool): Honour Range requests. Defaults to True.
        validators (bool): Send ETag and Last-Modified. Defaults to True.
    """

    def __init__(self, root, ranges=True, validators=True):
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.httpd.root = root
        self.httpd.requests = []
        self.httpd.headers_seen = []
        self.httpd.completed = []
        self.httpd.faults = {}
        self.httpd.ranges = ranges
        self.httpd.validators = validators
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def root(self):
        return self.httpd.root

    @property
    def requests(self):
        """``(path, Range header)`` of every request, in order."""
        return self.httpd.requests

    @property
    def headers_seen(self):
        """The headers of every request, in order."""
        return self.httpd.headers_seen

    @property
    def completed(self):
        """The paths of the bodies sent to the end (whole files or their rest)."""
        return self.httpd.completed

    def fault(self, name, **kwargs):
        """``status=500``, ``truncate_after=N`` (``times=1`` by default), or a slow
        transfer: ``chunk=N`` bytes at a time with ``delay=S`` seconds between."""
        self.httpd.faults[name] = kwargs

    def url(self, name=''):
        host, port = self.httpd.server_address[:2]
        return f'http://{host}:{port}/{name}'

    def __enter__(self):
        os.makedirs(self.root, exist_ok=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
