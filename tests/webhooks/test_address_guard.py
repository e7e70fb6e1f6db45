"""The SSRF guard: only public addresses (or configured networks), checked and resolved safely."""

import uuid
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.models import WebhookEndpoint
from app.webhooks.address_guard import AddressPolicy, RefusedAddress, is_public
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.problems import assert_errors_at, assert_problem

PUBLIC = "https://93.184.215.14/"
RESPONSES = ["invitation.accepted"]

STRICT = AddressPolicy(allow_http=False, allowed_networks=[])
HTTP_OK = AddressPolicy(allow_http=True, allowed_networks=[])
LOOPBACK_OK = AddressPolicy(allow_http=True, allowed_networks=[IPv4Network("127.0.0.0/8")])

# Refused even where http is allowed: (label, URL).
REFUSED = [
    ("loopback", "http://127.0.0.1/hook"),
    ("loopback elsewhere in 127/8", "http://127.1.2.3/hook"),
    ("IPv6 loopback", "http://[::1]/hook"),
    ("hex loopback", "http://0x7f000001/hook"),
    ("decimal loopback", "http://2130706433/hook"),
    ("octal loopback", "http://0177.0.0.1/hook"),
    ("short loopback", "http://127.1/hook"),
    ("cloud metadata", "http://169.254.169.254/latest/meta-data/"),
    ("10/8", "http://10.0.0.1/hook"),
    ("172.16/12", "http://172.16.0.1/hook"),
    ("172.31 end of 172.16/12", "http://172.31.255.254/hook"),
    ("192.168/16", "http://192.168.1.1/hook"),
    ("CGNAT", "http://100.64.0.1/hook"),
    ("CGNAT end", "http://100.127.255.254/hook"),
    ("multicast", "http://224.0.0.1/hook"),
    ("unspecified", "http://0.0.0.0/hook"),
    ("zero network", "http://0.1.2.3/hook"),
    ("reserved 240/4", "http://240.0.0.1/hook"),
    ("broadcast", "http://255.255.255.255/hook"),
    ("TEST-NET-1", "http://192.0.2.1/hook"),
    ("benchmarking", "http://198.18.0.1/hook"),
    ("IPv4-mapped private", "http://[::ffff:10.0.0.1]/hook"),
    ("IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/hook"),
    ("IPv4-mapped metadata", "http://[::ffff:a9fe:a9fe]/hook"),
    ("IPv6 unspecified", "http://[::]/hook"),
    ("unique local (EC2 metadata)", "http://[fd00:ec2::254]/hook"),
    ("IPv6 link-local", "http://[fe80::1]/hook"),
    ("IPv6 link-local with zone", "http://[fe80::1%25eth0]/hook"),
    ("IPv6 multicast", "http://[ff02::1]/hook"),
    ("IPv6 documentation", "http://[2001:db8::1]/hook"),
    ("6to4 of loopback", "http://[2002:7f00:1::]/hook"),
    ("6to4 of private", "http://[2002:a00:1::1]/hook"),
    ("NAT64 of loopback", "http://[64:ff9b::7f00:1]/hook"),
    ("NAT64 of metadata", "http://[64:ff9b::169.254.169.254]/hook"),
    ("IPv4-compatible loopback", "http://[::127.0.0.1]/hook"),
    ("localhost", "http://localhost/hook"),
    ("localhost with a port", "http://localhost:8080/hook"),
    ("upper-case localhost", "http://LOCALHOST/hook"),
    ("a name that does not resolve", "http://no-such-host.invalid/hook"),
    ("credentials", "http://user:password@93.184.215.14/hook"),
    ("user name only", "http://user@93.184.215.14/hook"),
    ("empty credentials", "http://:@93.184.215.14/hook"),
    ("credentials hiding loopback", "http://93.184.215.14:80@127.0.0.1/hook"),
    ("no host", "http:///hook"),
    ("port out of range", "http://93.184.215.14:99999/hook"),
    ("not a port", "http://93.184.215.14:http/hook"),
]
REFUSED_IDS = [label for label, _ in REFUSED]
REFUSED_URLS = [url for _, url in REFUSED]

ACCEPTED = [
    "https://93.184.215.14/",
    "https://93.184.215.14:8443/hook?x=1#y",
    "https://[2606:4700::1]/x",
    "https://[::ffff:93.184.215.14]/x",  # IPv4-mapped public
    "https://[2002:5db8:d70e::1]/x",  # 6to4 of a public address
    "https://[64:ff9b::5db8:d70e]/x",  # NAT64 of a public address
    "https://1.1.1.1/",
]


# check_url ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://93.184.215.14/", "http://[2606:4700::1]/"])
async def test_http_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(RefusedAddress, match="https"):
        await STRICT.check_url(url)
    await HTTP_OK.check_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://93.184.215.14/", "ws://93.184.215.14/", "file:///etc/passwd", "93.184.215.14"]
)
async def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(RefusedAddress):
        await HTTP_OK.check_url(url)


@pytest.mark.parametrize("url", REFUSED_URLS, ids=REFUSED_IDS)
async def test_refused(url: str) -> None:
    with pytest.raises(RefusedAddress):
        await HTTP_OK.check_url(url)


@pytest.mark.parametrize("url", REFUSED_URLS, ids=REFUSED_IDS)
async def test_refused_over_https_too(url: str) -> None:
    with pytest.raises(RefusedAddress):
        await STRICT.check_url(url.replace("http://", "https://", 1))


async def test_deprecated_site_local_ipv6_is_refused() -> None:
    """fec0::/10 (site-local, RFC 3879; IANA: reserved by the IETF) is IPv6's old 10/8.

    Python's ipaddress neither counts it private nor reserved, so is_global says True.
    """
    with pytest.raises(RefusedAddress):
        await HTTP_OK.check_url("http://[fec0::1]/hook")


@pytest.mark.parametrize("url", ACCEPTED)
async def test_public_addresses_are_accepted(url: str) -> None:
    await STRICT.check_url(url)


async def test_refusal_names_the_address() -> None:
    with pytest.raises(RefusedAddress, match=r"localhost \(127\.0\.0\.1\)"):
        await HTTP_OK.check_url("http://localhost/")
    with pytest.raises(RefusedAddress, match="credentials"):
        await HTTP_OK.check_url("http://a:b@93.184.215.14/")
    with pytest.raises(RefusedAddress, match="does not resolve"):
        await HTTP_OK.check_url("http://no-such-host.invalid/")


async def test_allowed_networks_open_only_themselves() -> None:
    await LOOPBACK_OK.check_url("http://127.0.0.1:8080/hook")
    await LOOPBACK_OK.check_url("http://localhost:8080/hook")
    await LOOPBACK_OK.check_url("http://0x7f000001/hook")
    for url in (
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://[::1]/",
        "http://a:b@127.0.0.1/",
    ):
        with pytest.raises(RefusedAddress):
            await LOOPBACK_OK.check_url(url)


async def test_allowed_networks_do_not_allow_http() -> None:
    policy = AddressPolicy(allow_http=False, allowed_networks=[IPv4Network("127.0.0.0/8")])

    await policy.check_url("https://127.0.0.1/")
    with pytest.raises(RefusedAddress):
        await policy.check_url("http://127.0.0.1/")


async def test_allowed_ipv6_network() -> None:
    policy = AddressPolicy(allow_http=True, allowed_networks=[IPv6Network("fd00::/8")])

    await policy.check_url("http://[fd00:ec2::254]/")
    with pytest.raises(RefusedAddress):
        await policy.check_url("http://[fe80::1]/")
    with pytest.raises(RefusedAddress):
        await policy.check_url("http://10.0.0.1/")


def test_is_public() -> None:
    assert is_public(ip_address("93.184.215.14"))
    assert is_public(ip_address("2606:4700::1"))
    assert not is_public(ip_address("::ffff:192.168.0.1"))
    assert not is_public(ip_address("64:ff9b::a00:1"))
    assert not is_public(ip_address("2002:c0a8:1::"))
    assert not is_public(ip_address("100.64.0.0"))


# check_target: at send time, for what the resolver never sees ---------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://10.0.0.1/",
        "https://169.254.169.254/",
        "https://[::ffff:127.0.0.1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2002:7f00:1::]/",
        "http://93.184.215.14/",
        "ftp://93.184.215.14/",
        "https://93.184.215.14:99999/",
    ],
)
def test_check_target_refuses_at_send_time(url: str) -> None:
    with pytest.raises(RefusedAddress):
        STRICT.check_target(url)


@pytest.mark.parametrize(
    "url", ["https://93.184.215.14/", "https://[2606:4700::1]/", "https://example.com/"]
)
def test_check_target_passes_public_literals_and_names(url: str) -> None:
    """Names are left to the resolver (which checks what is dialled)."""
    STRICT.check_target(url)


def test_check_target_honours_allowed_networks() -> None:
    LOOPBACK_OK.check_target("http://127.0.0.1:8080/")
    with pytest.raises(RefusedAddress):
        LOOPBACK_OK.check_target("http://10.0.0.1/")


# The resolver the HTTP client dials through --------------------------------------------------


async def test_guarded_resolver_refuses_localhost() -> None:
    resolver = STRICT.resolver()
    try:
        with pytest.raises(RefusedAddress):
            await resolver.resolve("localhost", 443)
        with pytest.raises(RefusedAddress):
            await resolver.resolve("127.0.0.1", 443)
    finally:
        await resolver.close()


async def test_guarded_resolver_passes_public_and_allowed_addresses() -> None:
    strict, loopback = STRICT.resolver(), LOOPBACK_OK.resolver()
    try:
        (public,) = await strict.resolve("93.184.215.14", 443)
        resolved = await loopback.resolve("localhost", 8080)
    finally:
        await strict.close()
        await loopback.close()

    assert (public["host"], public["port"]) == ("93.184.215.14", 443)
    assert resolved
    assert all(r["host"] == "127.0.0.1" and r["port"] == 8080 for r in resolved)


# Through the API ----------------------------------------------------------------------------


def http_allowed(data_dir: Path) -> Settings:
    return Settings(
        jwt_secret=TEST_SECRET, data_dir=data_dir, database_url=None, webhook_allow_http=True
    )


async def endpoint_count(connection: AsyncConnection, tenant: uuid.UUID) -> int:
    query = (
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant)
    )
    return int(await connection.scalar(query) or 0)


@pytest.mark.parametrize("url", REFUSED_URLS, ids=REFUSED_IDS)
async def test_api_refuses_on_create(
    app: FastAPI,
    settings: Settings,
    connection: AsyncConnection,
    tenant: uuid.UUID,
    admin: Caller,
    url: str,
) -> None:
    app.state.settings = http_allowed(settings.data_dir)

    response = await admin.post("/v1/webhooks", json={"url": url, "event_types": RESPONSES})

    problem = assert_problem(response, 422, "webhook_url_refused")
    assert_errors_at(problem, "body", "url")
    assert await endpoint_count(connection, tenant) == 0


async def test_api_refuses_on_update(
    app: FastAPI, settings: Settings, connection: AsyncConnection, admin: Caller
) -> None:
    created = await admin.create("/v1/webhooks", {"url": PUBLIC, "event_types": RESPONSES})
    app.state.settings = http_allowed(settings.data_dir)
    table = WebhookEndpoint.__table__
    query = select(table).where(table.c.id == uuid.UUID(created["id"]))
    before = (await connection.execute(query)).one()

    failures = []
    for label, url in REFUSED:
        response = await admin.patch(f"/v1/webhooks/{created['id']}", json={"url": url})
        try:
            problem = assert_problem(response, 422, "webhook_url_refused")
            assert_errors_at(problem, "body", "url")
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")

    assert not failures, "\n".join(failures)
    assert (await connection.execute(query)).one() == before


async def test_api_refuses_site_local_ipv6(
    app: FastAPI, settings: Settings, connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    app.state.settings = http_allowed(settings.data_dir)

    response = await admin.post(
        "/v1/webhooks", json={"url": "https://[fec0::1]/hook", "event_types": RESPONSES}
    )

    assert_problem(response, 422, "webhook_url_refused")
    assert await endpoint_count(connection, tenant) == 0


@pytest.mark.parametrize("url", ACCEPTED)
async def test_api_accepts_public_addresses(admin: Caller, url: str) -> None:
    created = await admin.create("/v1/webhooks", {"url": url, "event_types": RESPONSES})

    assert created["url"] == url
