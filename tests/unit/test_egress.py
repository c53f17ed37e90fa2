"""The egress guard (``pytake.egress``): which addresses and names are the server's own
network, the operator's allowlist, connections pinned to the checked address (no DNS
rebinding), redirects, and what flows' HTTP steps and test mode make of a refusal."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import zoneinfo

import httpcore
import httpx
import pytest

from pytake import egress, webpush
from pytake.auth.errors import AccessError
from pytake.flows import calls, definition, engine, rehearsal
from pytake.i18n import LANGUAGES, catalog
from pytake.services import organization
from pytake.settings import Settings

NOBODY = egress.Allowlist()
PUBLIC = "93.184.216.34"
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


# Addresses and names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),  # IPv4-mapped public
        ("64:ff9b::808:808", None),  # NAT64 of a public address
        ("2002:808:808::1", None),  # 6to4 of a public address
        ("127.0.0.1", "internal_host"),
        ("127.255.0.9", "internal_host"),
        ("10.0.0.5", "internal_host"),
        ("172.16.3.4", "internal_host"),
        ("192.168.1.1", "internal_host"),
        ("100.64.0.1", "internal_host"),  # shared address space
        ("169.254.1.1", "internal_host"),  # link-local
        ("0.0.0.0", "internal_host"),  # noqa: S104
        ("224.0.0.251", "internal_host"),  # multicast
        ("255.255.255.255", "internal_host"),
        ("240.0.0.1", "internal_host"),  # reserved
        ("198.18.0.1", "internal_host"),
        ("::1", "internal_host"),
        ("::", "internal_host"),
        ("fe80::1", "internal_host"),
        ("fe80::1%lo", "internal_host"),
        ("fc00::1", "internal_host"),
        ("fd12:3456::1", "internal_host"),  # ULA
        ("ff02::1", "internal_host"),
        ("2001:db8::1", "internal_host"),
        ("2001::1", "internal_host"),  # Teredo
        ("::ffff:127.0.0.1", "internal_host"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "internal_host"),
        ("::127.0.0.1", "internal_host"),  # IPv4-compatible
        ("64:ff9b::7f00:1", "internal_host"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", "internal_host"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "internal_host"),  # 6to4 of 192.168.1.1
        ("169.254.169.254", "metadata_host"),
        ("::ffff:169.254.169.254", "metadata_host"),
        ("fd00:ec2::254", "metadata_host"),
        ("100.100.100.200", "metadata_host"),
        ("169.254.170.2", "metadata_host"),
        ("not an address", "internal_host"),
    ],
)
def test_addresses_are_classified(address, reason):
    assert egress.classify(address) == reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("api.example.com", None),
        ("8.8.8.8", None),
        ("cafe", None),
        ("localhost", "internal_host"),
        ("LOCALHOST.", "internal_host"),
        ("app.localhost", "internal_host"),
        ("127.0.0.1", "internal_host"),
        ("2130706433", "internal_host"),  # decimal 127.0.0.1
        ("0177.0.0.1", "internal_host"),  # octal
        ("127.1", "internal_host"),  # short form
        ("0x7f.1", "internal_host"),  # hex
        ("017700000001", "internal_host"),
        ("0", "internal_host"),  # 0.0.0.0
        ("::ffff:127.0.0.1", "internal_host"),
        ("metadata.google.internal", "metadata_host"),
        ("metadata", "metadata_host"),
        ("169.254.169.254", "metadata_host"),
        ("2852039166", "metadata_host"),  # decimal 169.254.169.254
    ],
)
def test_names_are_refused_without_asking_dns(name, reason, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns)
    assert egress.name_refusal(name, NOBODY) == reason


@pytest.mark.parametrize(
    "url",
    ["http://2130706433/", "http://127.1:8080/", "http://[::ffff:127.0.0.1]/", "http://[::1]/"],
)
def test_odd_spellings_of_loopback_are_refused_as_they_resolve(url):
    with pytest.raises(egress.Refused) as refused:
        egress.vet(url, NOBODY)
    assert refused.value.reason == "internal_host"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://api.example.com/x",
        "file:///etc/passwd",
        "https://user:pw@api.example.com/",
        "https://api.example.com@10.0.0.1/",
        "http:///nohost",
        "http://[::1/x",
    ],
)
def test_what_is_not_a_plain_http_url_is_refused(url):
    with pytest.raises(egress.Refused) as refused:
        egress.vet(url, NOBODY)
    assert refused.value.reason == "bad_url"


def test_a_name_is_refused_if_any_of_its_addresses_is_internal(monkeypatch):
    _resolver(monkeypatch, {"mixed.test": [PUBLIC, "10.0.0.7"], "gone.test": []})
    with pytest.raises(egress.Refused) as refused:
        egress.vet("https://mixed.test/", NOBODY)
    assert (refused.value.reason, refused.value.address) == ("internal_host", "10.0.0.7")
    with pytest.raises(egress.Refused) as refused:
        egress.vet("https://gone.test/", NOBODY)
    assert refused.value.reason == "unresolved"


# The operator's allowlist ----------------------------------------------------------------------


def test_the_operator_allows_internal_hosts_by_name_address_or_network(monkeypatch):
    settings = Settings(_env_file=None, egress_allow=" ERP.intranet., 10.1.0.0/16 ,127.0.0.1")
    assert settings.egress_allow == "erp.intranet,10.1.0.0/16,127.0.0.1"
    names, networks = settings.egress_allowlist
    assert names == {"erp.intranet"}
    assert networks == (ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("127.0.0.1"))
    allow = egress.Allowlist(names, networks)
    internal = {"erp.intranet": ["10.9.9.9"], "wiki.intranet": ["10.1.2.3"]}
    _resolver(
        monkeypatch, {**internal, "other.intranet": ["10.2.0.1"], "db.intranet": ["127.0.0.2"]}
    )
    assert egress.vet("http://erp.intranet:8069/", allow).addresses == ("10.9.9.9",)
    assert egress.vet("http://wiki.intranet/", allow).addresses == ("10.1.2.3",)
    assert egress.vet("http://127.0.0.1:9000/", allow).addresses == ("127.0.0.1",)
    assert egress.vet("http://[::ffff:127.0.0.1]/", allow).host == "::ffff:127.0.0.1"
    for url in ("http://other.intranet/", "http://db.intranet/", "http://localhost/"):
        with pytest.raises(egress.Refused):
            egress.vet(url, allow)
    assert egress.name_refusal("127.0.0.1", allow) is None
    assert egress.name_refusal("2130706433", allow) is None  # the same address
    assert egress.name_refusal("127.1.1.1", allow) == "internal_host"
    with pytest.raises(egress.Refused):
        egress.vet("http://erp.intranet/", NOBODY)  # nothing is allowed by default


@pytest.mark.parametrize("value", ["erp intranet", "10.0.0.0/33", "http://erp.intranet", "-x"])
def test_a_wrong_allowlist_stops_the_server_naming_the_variable(value, settings_env):
    from pytake.settings import SettingsError, get_settings

    settings_env(egress_allow=value)
    with pytest.raises(SettingsError, match="PYTAKE_EGRESS_ALLOW"):
        get_settings()


def test_tenants_cannot_save_internal_hosts_unless_the_operator_allows_them(settings_env):
    for host in ("localhost", "127.0.0.1", "2130706433", "0177.0.0.1", "10.0.0.5", "127.1"):
        with pytest.raises(AccessError) as refused:
            organization._hosts(f"api.example.com\n{host}")
        assert refused.value.code == "organization.internal_host", host
    for host in ("metadata.google.internal", "169.254.169.254"):
        with pytest.raises(AccessError) as refused:
            organization._hosts(host)
        assert refused.value.code == "organization.metadata_host"
    assert organization._hosts("API.example.com, hooks.example.org.") == [
        "api.example.com",
        "hooks.example.org",
    ]
    settings_env(egress_allow="127.0.0.1,erp.intranet")
    assert organization._hosts("127.0.0.1 erp.intranet") == ["127.0.0.1", "erp.intranet"]
    with pytest.raises(AccessError):
        organization._hosts("10.0.0.5")


# Connecting to what was checked ----------------------------------------------------------------


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(monkeypatch):
    """DNS rebinding: the name answers a public address when checked, then 127.0.0.1."""
    asked = _resolver(monkeypatch, {"api.test": [PUBLIC]}, then={"api.test": ["127.0.0.1"]})
    target = egress.vet("https://api.test/orders", NOBODY)
    assert asked == ["api.test"] and target.addresses == (PUBLIC,)
    phone = Phone()
    transport = egress.GuardedTransport(pinned=target, inner=phone, allow=NOBODY)
    with httpx.Client(transport=transport) as client:
        assert client.get("https://api.test/orders").json() == {"ok": True}
    assert phone.connected == [(PUBLIC, 443)] and asked == ["api.test"]  # no second lookup
    assert phone.sni == ["api.test"]  # TLS (SNI, certificate) still checks the name
    assert b"host: api.test\r\n" in b"".join(phone.written).lower()
    # Unpinned, the connection checks again: the second answer is refused, never connected.
    unpinned = Phone()
    transport = egress.GuardedTransport(inner=unpinned, allow=NOBODY)
    with httpx.Client(transport=transport) as client, pytest.raises(egress.Refused) as refused:
        client.get("https://api.test/orders")
    assert (refused.value.reason, refused.value.address) == ("internal_host", "127.0.0.1")
    assert unpinned.connected == []


async def test_async_connections_are_pinned_and_checked_the_same_way(monkeypatch):
    asked = _resolver(monkeypatch, {"push.test": [PUBLIC]}, then={"push.test": ["10.0.0.1"]})
    target = await egress.avet("https://push.test/x", NOBODY)
    phone = AsyncPhone()
    transport = egress.AsyncGuardedTransport(pinned=target, inner=phone, allow=NOBODY)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.post("https://push.test/x", content=b"hi")).status_code == 200
    assert phone.connected == [(PUBLIC, 443)] and asked == ["push.test"]
    unpinned = AsyncPhone()
    transport = egress.AsyncGuardedTransport(inner=unpinned, allow=NOBODY)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(egress.Refused):
            await client.post("https://push.test/x", content=b"hi")
    assert unpinned.connected == []


def test_a_client_that_follows_redirects_has_every_hop_checked(monkeypatch):
    _resolver(monkeypatch, {"api.test": [PUBLIC]})
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/x\r\nContent-Length: 0\r\n\r\n"
    phone = Phone(moved)
    transport = egress.GuardedTransport(inner=phone, allow=NOBODY)
    with (
        httpx.Client(transport=transport, follow_redirects=True) as client,
        pytest.raises(egress.Refused) as refused,
    ):
        client.get("http://api.test/start")
    assert refused.value.reason == "metadata_host"
    assert phone.connected == [(PUBLIC, 80)]  # the metadata service was never connected to


async def test_push_services_are_guarded_too(monkeypatch, settings_env):
    """A listed push service's name that resolves inside is refused (the browser chose the
    endpoint); the operator's own origins in PYTAKE_PUSH_SERVICES are allowed."""
    settings_env(push_services="fcm.googleapis.com,http://push.intranet:8080")
    _resolver(monkeypatch, {"fcm.googleapis.com": ["127.0.0.1"], "push.intranet": ["10.0.0.5"]})
    async with webpush.client() as client:
        with pytest.raises(egress.Refused):
            await client.post("https://fcm.googleapis.com/fcm/send/x", content=b"x")
    target = egress.check_host("push.intranet", 8080, webpush.allowed_internally())
    assert target.addresses == ("10.0.0.5",)
    with pytest.raises(egress.Refused):
        egress.check_host("push.intranet", 8080, egress.allowlist())


# Flows' HTTP steps and test mode ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hosts", "reason"),
    [
        ("http://127.0.0.1:8080/x", ["127.0.0.1"], "internal_host"),  # saved before the fix
        ("http://localhost/x", ["localhost"], "internal_host"),
        ("http://2130706433/x", ["2130706433"], "internal_host"),
        ("http://metadata.google.internal/v1", ["metadata.google.internal"], "metadata_host"),
        ("http://erp.test/x", ["erp.test"], "internal_host"),  # a name resolving inside
        ("http://user:pw@api.test/x", ["api.test"], "bad_url"),
    ],
)
def test_a_flow_call_to_the_servers_own_network_fails_before_any_request(
    url, hosts, reason, monkeypatch
):
    _resolver(monkeypatch, {"erp.test": ["192.168.0.10"], "api.test": [PUBLIC]})
    seen = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    request = engine.Request("GET", url, {}, "", 2)
    assert calls.perform(request, hosts, transport=transport) == engine.Response(failed=reason)
    assert seen == []


def test_test_mode_says_in_words_why_a_call_was_refused():
    step = definition.clean_step({"id": "h", "kind": "http", "url": "http://127.0.0.1:9/x"})
    ctx = engine.Context(
        "Ana", "5511999990000", {}, 0, dt.datetime.now(dt.UTC), zoneinfo.ZoneInfo("UTC")
    )
    played = rehearsal.play({"steps": [step]}, {}, ctx, engine.Start(), ["127.0.0.1"])
    notes = [(line.key, line.text) for line in played.lines]
    assert ("flows.test.http", "GET http://127.0.0.1:9/x → internal_host") in notes
    assert ("flows.http_failed.internal_host", "127.0.0.1") in notes


def test_every_refusal_has_words_in_every_language():
    for language in LANGUAGES:
        words = catalog(language)
        for reason in calls.EXPLAINED:
            assert words.get(f"flows.http_failed.{reason}"), (language, reason)
        assert {"organization.internal_host", "organization.metadata_host"} <= set(words)


# Helpers ---------------------------------------------------------------------------------------


def _no_dns(*args, **kwargs):
    raise AssertionError("no DNS lookup expected")


def _resolver(monkeypatch, first: dict[str, list[str]], then: dict | None = None) -> list[str]:
    """getaddrinfo answering ``first`` for these names, ``then`` when asked again; other
    names as usual. Returns the names asked, in order."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host not in first:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        table = then if then and asked.count(host) > 1 else first
        addresses = table[host]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_info(address, port) for address in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return asked


def _info(address: str, port: int) -> tuple:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


class Phone(httpcore.NetworkBackend):
    """A network that records where it is asked to connect, the TLS name and the bytes
    written, and answers ``answer`` on every connection."""

    def __init__(self, answer: bytes = OK) -> None:
        self.answer, self.connected, self.sni, self.written = answer, [], [], []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append((host, port))
        return _Line(self)


class _Line(httpcore.NetworkStream):
    def __init__(self, phone) -> None:
        self.phone, self.unread = phone, [phone.answer]

    def read(self, max_bytes, timeout=None) -> bytes:
        return self.unread.pop(0) if self.unread else b""

    def write(self, buffer, timeout=None) -> None:
        self.phone.written.append(buffer)

    def close(self) -> None:
        pass

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        self.phone.sni.append(server_hostname)
        return self

    def get_extra_info(self, info):
        return None


class AsyncPhone(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ASYNC109
        self.connected.append((host, port))
        return _AsyncLine()


class _AsyncLine(httpcore.AsyncNetworkStream):
    def __init__(self) -> None:
        self.unread = [OK]

    async def read(self, max_bytes, timeout=None) -> bytes:  # noqa: ASYNC109
        return self.unread.pop(0) if self.unread else b""

    async def write(self, buffer, timeout=None) -> None:  # noqa: ASYNC109
        pass

    async def aclose(self) -> None:
        pass

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # noqa: ASYNC109
        return self

    def get_extra_info(self, info):
        return None
