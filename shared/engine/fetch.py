"""Fetching URLs that users give us (images, input files, callbacks): hostile territory.

Every hop (the URL and each redirect) is resolved once; every address it resolves to must
be public (not loopback, private, link-local, multicast, reserved or cloud metadata) unless
the operator allowlisted it, and the connection goes to the address we checked, so a DNS
answer cannot change between the check and the connect. Bodies stream under a byte cap,
with connect and read timeouts and a total deadline.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

from shared.engine.errors import JobError

CHUNK = 64 * 1024
USER_AGENT = "Jobline/0.1 (+https://github.com/jobline)"


class FetchError(JobError):
    """The URL could not be fetched safely; the message says why."""


@dataclass(frozen=True)
class Policy:
    max_bytes: int = 50 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_redirects: int = 5
    allow: tuple[str, ...] = ()  # CIDRs or host names exempt from the address check

    @classmethod
    def from_setting(cls, allow: str, **kw) -> Policy:
        return cls(allow=tuple(a.strip() for a in allow.split(",") if a.strip()), **kw)


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content_type: str
    body: bytes


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def check_address(ip: str, host: str, policy: Policy) -> None:
    """Refuse a non-public address unless allowlisted (by CIDR or host name)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for entry in policy.allow:
        if entry.lower() == host.lower():
            return
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return
        except ValueError:
            continue
    kinds = [("loopback", addr.is_loopback), ("private", addr.is_private), ("link-local", addr.is_link_local),
             ("multicast", addr.is_multicast), ("reserved", addr.is_reserved), ("unspecified", addr.is_unspecified)]
    if isinstance(addr, ipaddress.IPv6Address):
        # Tunnels carry an IPv4 address of any kind inside (2002:7f00:1:: is 127.0.0.1 by 6to4),
        # and site-local (fec0::/10) is private in all but name.
        kinds += [("6to4 tunnel", addr.sixtofour is not None), ("Teredo tunnel", addr.teredo is not None),
                  ("NAT64", addr in NAT64), ("site-local", addr.is_site_local)]
    for kind, bad in kinds:
        if bad:
            raise FetchError(f"refused to fetch {host}: {addr} is a {kind} address")
    if not addr.is_global:
        raise FetchError(f"refused to fetch {host}: {addr} is not a public address")


def resolve(host: str, port: int, policy: Policy) -> str:
    """The first address of ``host``; every address it has must pass ``check_address``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    ips = [info[4][0] for info in infos]
    for ip in ips:
        check_address(ip, host, policy)
    return ips[0]


def fetch(url: str, policy: Policy, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None) -> Fetched:
    """GET (or POST) ``url`` safely; raise ``FetchError`` with a clear reason otherwise."""
    deadline = time.monotonic() + policy.total_timeout
    for _hop in range(policy.max_redirects + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"only http and https URLs can be fetched, not {url[:200]!r}")
        if parts.username or parts.password:
            raise FetchError("URLs with credentials are not accepted")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = resolve(parts.hostname, port, policy)
        response = _request(parts.scheme, ip, port, parts.hostname, method,
                            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers, policy)
        if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
            response.release_conn()
            url = urljoin(url, response.headers["Location"])
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            continue
        return Fetched(url, response.status, response.headers.get("Content-Type", ""), _read_capped(response, policy, deadline))
    raise FetchError(f"too many redirects (more than {policy.max_redirects})")


def _request(scheme, ip, port, host, method, path, body, headers, policy: Policy):
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    kwargs = {"timeout": timeout, "retries": False, "maxsize": 1}
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(ip, port, server_hostname=host, assert_hostname=host, **kwargs)
    else:
        pool = urllib3.HTTPConnectionPool(ip, port, **kwargs)
    hdrs = {"Host": host if port in (80, 443) else f"{host}:{port}", "User-Agent": USER_AGENT, **(headers or {})}
    try:
        return pool.urlopen(method, path, body=body, headers=hdrs, redirect=False, preload_content=False)
    except urllib3.exceptions.ConnectTimeoutError:
        raise FetchError(f"timed out connecting to {host}") from None
    except urllib3.exceptions.ReadTimeoutError:
        raise FetchError(f"{host} did not answer within {policy.read_timeout:g} s") from None
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"could not fetch from {host}: {exc}") from None


def _read_capped(response, policy: Policy, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        response.release_conn()
        raise FetchError(f"too large: {int(declared)} bytes declared, the limit is {policy.max_bytes}")
    chunks, size = [], 0
    try:
        for chunk in response.stream(CHUNK):
            size += len(chunk)
            if size > policy.max_bytes:
                raise FetchError(f"too large: more than {policy.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchError(f"too slow: not finished within {policy.total_timeout:g} s")
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError:
        raise FetchError(f"the server stopped sending for {policy.read_timeout:g} s") from None
    except urllib3.exceptions.ProtocolError as exc:
        raise FetchError(f"the transfer broke off: {exc}") from None
    finally:
        response.release_conn()
    return b"".join(chunks)
