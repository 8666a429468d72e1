"""gunicorn's gevent worker, with over-long request lines and headers answered by the app's own surface.

gunicorn refuses a request line beyond ``limit_request_line`` (8190 bytes at most), and
headers beyond ``limit_request_fields`` / ``limit_request_field_size``, before any WSGI call,
with an HTML 414 or 431 page. Clients of the dialects expect their own error format (Dragon
JSON, Kasabi plain text, ...), so here the line's start is kept when gunicorn refuses the
request, and the app is called with that path, no query and no headers, marked so that
``api/hostile.py`` answers 414 or 431 the way that surface answers errors.
"""

from __future__ import annotations

import io
import sys
from urllib.parse import unquote_to_bytes

from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.workers.ggevent import GeventWorker

#: WSGI environ key set for a request whose line gunicorn refused as too long (the app's
#: ``api.hostile.TOO_LONG``; not imported: the master process never loads the app).
TOO_LONG = "jobline.request_line_too_long"
#: Set for a request whose headers gunicorn refused as too many or too large (``api.hostile.HEADERS_TOO_LARGE``).
HEADERS_TOO_LARGE = "jobline.headers_too_large"
_HEAD = 2048  # bytes of the refused line kept: enough for method and path


class _HeadKeepingRequest(Request):
    def read_line(self, unreader, buf, limit=0):
        try:
            return super().read_line(unreader, buf, limit)
        except LimitRequestLine as exc:
            exc.jobline_head = bytes(buf[:_HEAD])
            raise

    def parse(self, unreader):
        try:
            return super().parse(unreader)
        except LimitRequestHeaders as exc:
            if self.method and self.path is not None:  # the request line was read: its surface answers
                exc.jobline_head = f"{self.method} {self.path or '/'}".encode("latin-1", "replace")[:_HEAD]
            raise


class Worker(GeventWorker):
    def init_process(self) -> None:
        # The Python parser (gunicorn_h1c's reads lines in C, out of reach) with the line kept.
        RequestParser.mesg_class = _HeadKeepingRequest
        super().init_process()

    def handle_error(self, req, client, addr, exc) -> None:
        head = getattr(exc, "jobline_head", None)
        if isinstance(exc, (LimitRequestLine, LimitRequestHeaders)) and head:
            mark = TOO_LONG if isinstance(exc, LimitRequestLine) else HEADERS_TOO_LARGE
            try:
                client.sendall(self._answer_refused(head, mark))
                self.log.warning("%s from ip=%s: answered by the app", exc, (addr or ("",))[0])
                return
            except Exception:  # noqa: BLE001 - fall back to gunicorn's own page
                self.log.debug("could not answer an over-long request line", exc_info=True)
        super().handle_error(req, client, addr, exc)

    def _answer_refused(self, head: bytes, mark: str) -> bytes:
        method, _, rest = head.partition(b" ")
        path = rest.split(b" ", 1)[0].split(b"?", 1)[0][:1024] or b"/"
        environ = {
            "REQUEST_METHOD": method.decode("latin-1")[:16] or "GET",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": "0", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, mark: True,
        }
        started: list = []
        body = b"".join(self.wsgi(environ, lambda status, headers, exc_info=None: started.extend([status, headers])))
        status, headers = started
        lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers
                                          if k.lower() not in ("content-length", "connection")]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
