"""A real HTTP file server on 127.0.0.1 for download tests.

It serves the files of one folder, honours ``Range`` requests (206), logs every
request, and can be told to misbehave per path: answer an error status, or cut the
body short after N bytes while announcing the full length.
"""
import os
import os.path as osp
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server_version = 'mmagent-test'

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server
        name = self.path.split('?')[0].lstrip('/')
        srv.requests.append((name, self.headers.get('Range')))
        fault = srv.faults.get(name)
        if fault and fault.get('status'):
            self.send_error(fault['status'])
            return
        path = osp.join(srv.root, name)
        if not osp.isfile(path):
            self.send_error(404)
            return
        with open(path, 'rb') as f:
            data = f.read()
        start = 0
        rng = self.headers.get('Range')
        if rng and rng.startswith('bytes=') and srv.ranges:
            start = int(rng[6:].split('-')[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        cut = fault.get('truncate_after') if fault else None
        if cut is not None and fault.get('times', 1) > 0:
            fault['times'] = fault.get('times', 1) - 1
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class FileServer:
    """``with FileServer(folder) as srv: srv.url('x.pth')``."""

    def __init__(self, root, ranges=True):
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.httpd.root = root
        self.httpd.requests = []
        self.httpd.faults = {}
        self.httpd.ranges = ranges
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def root(self):
        return self.httpd.root

    @property
    def requests(self):
        return self.httpd.requests

    def fault(self, name, **kwargs):
        """``status=500`` or ``truncate_after=N`` (``times=1`` by default)."""
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
