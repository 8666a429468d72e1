"""The SSRF guard and the capped, timed fetch, against local HTTP servers."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from shared.engine.fetch import FetchError, Policy, check_address, fetch

LOCAL = Policy(allow=("127.0.0.0/8",), read_timeout=1, total_timeout=5, max_bytes=1000, max_redirects=2)


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                "::1", "fe80::1", "fd00::1", "0.0.0.0", "224.0.0.1", "::ffff:127.0.0.1", "100.64.0.1",
                                "2002:7f00:1::1", "2002:5db8:d822::1",  # 6to4: 127.0.0.1, and even a public v4
                                "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
                                "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
                                "fec0::1"])  # site-local
def test_non_public_addresses_are_refused(ip):
    with pytest.raises(FetchError, match="refused"):
        check_address(ip, "example.test", Policy())


def test_public_addresses_and_allowlist():
    check_address("93.184.216.34", "example.com", Policy())
    check_address("127.0.0.1", "localhost", Policy(allow=("127.0.0.0/8",)))
    check_address("10.0.0.5", "files.internal", Policy(allow=("files.internal",)))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/ok":
            self._send(200, b"hello", "text/plain")
        elif self.path == "/big":
            self._send(200, b"x" * 5000, "application/octet-stream")
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"200\r\n" + b"y" * 512 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"a")
            self.wfile.flush()
            time.sleep(3)
        elif self.path.startswith("/redirect/"):
            n = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", "/ok" if n == 0 else f"/redirect/{n - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"no", "text/plain")

    def _send(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_fetch_ok_and_redirects(server):
    got = fetch(f"{server}/ok", LOCAL)
    assert got.status == 200 and got.body == b"hello" and got.content_type == "text/plain"
    assert fetch(f"{server}/redirect/1", LOCAL).body == b"hello"
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(f"{server}/redirect/5", LOCAL)


def test_loopback_refused_unless_allowlisted(server):
    with pytest.raises(FetchError, match="loopback"):
        fetch(f"{server}/ok", Policy())


def test_redirect_to_metadata_address_is_refused(server):
    with pytest.raises(FetchError, match="169.254.169.254"):
        fetch(f"{server}/to-metadata", LOCAL)


def test_byte_cap_declared_and_streamed(server):
    with pytest.raises(FetchError, match="too large"):
        fetch(f"{server}/big", LOCAL)
    with pytest.raises(FetchError, match="too large"):
        fetch(f"{server}/big-chunked", LOCAL)


def test_slow_server_times_out(server):
    with pytest.raises(FetchError, match="stopped sending|did not answer|too slow|broke off"):
        fetch(f"{server}/slow", LOCAL)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/",
                                 "javascript:alert(1)", "http:///nohost"])
def test_bad_urls(url):
    with pytest.raises(FetchError):
        fetch(url, LOCAL)


def test_unresolvable_host():
    with pytest.raises(FetchError, match="cannot resolve"):
        fetch("http://no-such-host.invalid/", Policy())
