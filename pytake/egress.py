"""The egress guard: one check for every URL the server fetches because a tenant or a browser
chose it (flows' HTTP steps, Web Push endpoints).

Why: such a URL must never make the server call its own network (a database's HTTP port, an
admin page on 127.0.0.1, the cloud's metadata service that hands out credentials) and, through
a flow's mapping, show the answer to the tenant. Checking the host *name* is not enough: a
public-looking name may resolve to an internal address, resolve differently a second later
(DNS rebinding), or be an IP in an odd spelling (``2130706433``, ``0177.0.0.1``, ``127.1``).

So the URL is parsed by httpx's own parser (the one that will connect), the name is resolved
once, every address it resolves to must be public, and the connection goes to exactly those
checked addresses: the guarded transports below swap the address in at httpcore's network
backend, so the Host header, TLS SNI and the certificate check still use the name. Each new
connection goes through the check, so a client that follows redirects has every hop checked.

Only the operator may open a hole, on purpose (an intranet ERP): ``PYTAKE_EGRESS_ALLOW`` names
hosts, IPs or networks the guard lets through. Tenants cannot.

Operator-chosen URLs (PYTAKE_GRAPH_API_URL, the sandbox) do not go through here.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import socket
import ssl
import typing
from collections.abc import Iterable

import anyio.to_thread
import httpcore
import httpx

from pytake.settings import get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SocketOption = tuple  # httpcore's SOCKET_OPTION: (level, option, value[, length])
# Why a URL is refused: not an http(s) URL with a host and without credentials; a name that
# does not resolve; an internal address; a cloud metadata service.
Reason = typing.Literal["bad_url", "unresolved", "internal_host", "metadata_host"]
REASONS: tuple[Reason, ...] = typing.get_args(Reason)

# Names the cloud metadata services answer to (they resolve only inside the cloud).
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)
# AWS/GCP/Azure/OCI/DO, ECS tasks, AWS over IPv6, Alibaba, Tencent, Oracle classic.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "169.254.0.23",
        "192.0.0.192",
    )
)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

# IPv4 ranges that are not the public Internet (RFC 6890 and friends).
_V4_INTERNAL = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT, some clouds' internals)
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
# IPv6: only global unicast (2000::/3) is public, less the special blocks inside it. ULA
# fc00::/7, link-local fe80::/10, multicast ff00::/8, ::1 and :: all lie outside 2000::/3.
_V6_PUBLIC = ipaddress.IPv6Network("2000::/3")
_V6_INTERNAL = tuple(
    ipaddress.IPv6Network(n)
    for n in ("2001::/23", "2001:db8::/32", "3fff::/20")  # IETF (Teredo...), documentation
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the IPv4 address is the last 32 bits
_NUMERIC = re.compile(r"[0-9a-fx.]+")  # what inet_aton may read as an IPv4 address


class Refused(Exception):
    """The URL may not be fetched; ``reason`` says why (callers translate it), ``host`` is the
    name asked for and ``address`` the internal address it resolved to, if that was it."""

    def __init__(self, reason: Reason, host: str = "", address: str = "") -> None:
        super().__init__(f"{reason}: {host}" + (f" ({address})" if address else ""))
        self.reason, self.host, self.address = reason, host, address


@dataclasses.dataclass(frozen=True)
class Allowlist:
    """Internal hosts the operator lets through: by name (exact), or by address."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def permits_name(self, host: str) -> bool:
        return _normal(host) in self.names

    def permits_address(self, address: Address) -> bool:
        address = _unscoped(address)
        candidates = (address, _embedded_ipv4(address))
        return any(a in net for net in self.networks for a in candidates if a is not None)


def allowlist(*extra_names: str) -> Allowlist:
    """PYTAKE_EGRESS_ALLOW, plus names the operator allowed elsewhere (push service origins)."""
    names, networks = get_settings().egress_allowlist
    return Allowlist(names | {_normal(n) for n in extra_names if n}, networks)


@dataclasses.dataclass(frozen=True)
class Target:
    """A checked URL's host as httpcore will ask to connect to it (``raw_host``, the port
    filled in), and the addresses it resolved to: the only ones it may be connected to."""

    host: str
    port: int
    addresses: tuple[str, ...]


# Classifying addresses and names -----------------------------------------------------------


def classify(address: str | Address) -> Reason | None:
    """None for a public address; else ``internal_host`` or ``metadata_host``. IPv6 forms
    that carry an IPv4 address (mapped, NAT64, 6to4, IPv4-compatible) are judged by it."""
    try:
        ip = _unscoped(ipaddress.ip_address(address) if isinstance(address, str) else address)
    except ValueError:
        return "internal_host"  # not an address we understand: not one to call
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return classify(embedded)
    if ip in METADATA_ADDRESSES:
        return "metadata_host"
    if ip.version == 4:
        internal = any(ip in net for net in _V4_INTERNAL)
    else:
        internal = ip not in _V6_PUBLIC or any(ip in net for net in _V6_INTERNAL)
    return "internal_host" if internal else None


def _unscoped(ip: Address) -> Address:
    """``fe80::1%eth0`` without its zone, so it compares equal to ``fe80::1``."""
    if ip.version == 6 and ip.scope_id:
        return ipaddress.IPv6Address(int(ip))
    return ip


def _embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if int(ip) >> 32 == 0:  # IPv4-compatible ::a.b.c.d (and :: and ::1: 0.0.0.x, internal)
        return ipaddress.IPv4Address(int(ip))
    return None


def _normal(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _literal(name: str) -> Address | None:
    """An IP written as such, in any spelling getaddrinfo accepts ("2130706433", "0177.0.0.1",
    "127.1", "0x7f.1"), without asking DNS; None for a name."""
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if not _NUMERIC.fullmatch(name):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


def name_refusal(host: str, allow: Allowlist | None = None) -> Reason | None:
    """Without any DNS lookup: why ``host`` can never be called (localhost, a metadata name,
    an internal IP however it is spelled), else None. For checking settings when they are
    saved; names are resolved, and what they resolve to checked, when they are called."""
    allow = allowlist() if allow is None else allow
    name = _normal(host)
    if allow.permits_name(name):
        return None
    if name in METADATA_NAMES:
        return "metadata_host"
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return "internal_host"
    ip = _literal(name)
    if ip is None or allow.permits_address(ip):
        return None
    return classify(ip)


# Checking URLs -----------------------------------------------------------------------------


def _parse(url: str) -> tuple[str, int]:
    """(host, port) as httpcore will see them; refuses what is not a plain http(s) URL."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise Refused("bad_url", str(url)[:100]) from None
    host = parsed.raw_host.decode("ascii", "replace")
    if parsed.scheme not in ("http", "https") or not host:
        raise Refused("bad_url", host)
    if parsed.userinfo:  # "https://api.example.com@10.0.0.1/" reads as one host, is another
        raise Refused("bad_url", host)
    return host, parsed.port or (443 if parsed.scheme == "https" else 80)


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address the name resolves to, in getaddrinfo's order (numeric spellings of IPs
    come back normalized), without duplicates."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused("unresolved", host) from None
    return tuple(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


def check_host(host: str, port: int, allow: Allowlist) -> Target:
    """Resolve ``host`` once; refuse if ANY address is internal (a name answering both a
    public and an internal address would otherwise be a coin toss away from the inside)."""
    reason = name_refusal(host, allow)
    if reason:
        raise Refused(reason, host)
    addresses = _resolve(host, port)
    if not allow.permits_name(host):
        for address in addresses:
            reason = classify(address)
            if reason and not allow.permits_address(ipaddress.ip_address(address)):
                raise Refused(reason, host, address)
    return Target(host, port, addresses)


def vet(url: str, allow: Allowlist | None = None) -> Target:
    """Check ``url`` before fetching it (blocking: resolves). Raises ``Refused``."""
    host, port = _parse(url)
    return check_host(host, port, allowlist() if allow is None else allow)


async def avet(url: str, allow: Allowlist | None = None) -> Target:
    """``vet`` for async code: the name is resolved in a thread, off the event loop."""
    host, port = _parse(url)
    allow = allowlist() if allow is None else allow
    return await anyio.to_thread.run_sync(check_host, host, port, allow)


def hosts_of(urls: Iterable[str]) -> list[str]:
    """The hosts of URLs such as ``http://10.0.0.5:8080`` (for ``allowlist``)."""
    found = []
    for url in urls:
        try:
            found.append(httpx.URL(url).raw_host.decode("ascii", "replace"))
        except (httpx.InvalidURL, ValueError):
            continue
    return [host for host in found if host]


# Connecting to what was checked --------------------------------------------------------------


class _Pins:
    """Where a connection may go: a pre-checked target's addresses, or a fresh check."""

    def __init__(self, allow: Allowlist | None, pinned: Target | None) -> None:
        self.allow, self.pinned = allow, pinned

    def known(self, host: str, port: int) -> tuple[str, ...] | None:
        if self.pinned is not None and (host, port) == (self.pinned.host, self.pinned.port):
            return self.pinned.addresses
        return None

    def check(self, host: str, port: int) -> tuple[str, ...]:
        try:
            allow = allowlist() if self.allow is None else self.allow
            return check_host(host, port, allow).addresses
        except Refused as exc:
            if exc.reason == "unresolved":  # a network error, as httpx reports it
                raise httpcore.ConnectError(str(exc)) from exc
            raise


class _Backend(httpcore.NetworkBackend):
    def __init__(self, pins: _Pins, inner: httpcore.NetworkBackend | None) -> None:
        self.pins, self.inner = pins, inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.pins.known(host, port) or self.pins.check(host, port)
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:  # each in turn, as socket.create_connection would
            try:
                return self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def connect_unix_socket(self, path: str, timeout=None, socket_options=None):
        raise Refused("bad_url", path)  # a URL never names a socket file

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, pins: _Pins, inner: httpcore.AsyncNetworkBackend | None) -> None:
        self.pins, self.inner = pins, inner or httpcore.AnyIOBackend()

    async def connect_tcp(  # httpcore's interface, timeout included
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self.pins.known(host, port)
        if addresses is None:
            addresses = await anyio.to_thread.run_sync(self.pins.check, host, port)
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(self, path: str, timeout=None, socket_options=None):  # noqa: ASYNC109
        raise Refused("bad_url", path)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """httpx's default verifying context, made once (it reads the CA bundle)."""
    return httpx.create_ssl_context()


def _pool_options(limits: httpx.Limits | None, verify: ssl.SSLContext | None) -> dict:
    limits = limits or httpx.Limits()
    return {
        "ssl_context": verify or _default_tls(),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport whose every connection goes to checked addresses only: ``pinned``'s
    (from ``vet``: no second lookup) for its host and port, any other host checked as it is
    connected to. TLS still names the host (SNI, certificate check), as does the Host header.
    No proxy (it would resolve names itself) and no Unix sockets."""

    def __init__(
        self,
        *,
        allow: Allowlist | None = None,
        pinned: Target | None = None,
        inner: httpcore.NetworkBackend | None = None,
        limits: httpx.Limits | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        options = _pool_options(limits, verify)
        super().__init__(verify=options["ssl_context"])
        backend = _Backend(_Pins(allow, pinned), inner)
        self._pool = httpcore.ConnectionPool(network_backend=backend, **options)


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """``GuardedTransport`` for ``httpx.AsyncClient``; names are resolved off the loop."""

    def __init__(
        self,
        *,
        allow: Allowlist | None = None,
        pinned: Target | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
        limits: httpx.Limits | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        options = _pool_options(limits, verify)
        super().__init__(verify=options["ssl_context"])
        backend = _AsyncBackend(_Pins(allow, pinned), inner)
        self._pool = httpcore.AsyncConnectionPool(network_backend=backend, **options)
