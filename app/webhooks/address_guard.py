"""The SSRF guard: webhook URLs may only reach public addresses (or networks allowed by config).

Checked at registration, and again at connect time through the resolver the HTTP client
connects with, so the address that was checked is the address that is dialled.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from app.config import Settings

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

_NAT64 = IPv6Network("64:ff9b::/96")
_RESOLVE_SECONDS = 5.0


class RefusedAddress(OSError):
    """A webhook URL names, or resolves to, an address it may not reach."""


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether the address is globally routable unicast.

    Not loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved or
    unspecified, nor an IPv6 form of one of those.
    """
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if isinstance(address, IPv6Address) and address.is_site_local:
        return False  # fec0::/10: deprecated, yet `is_global` in Python's table
    return address.is_global and not address.is_multicast and not address.is_reserved


class AddressPolicy:
    """Which addresses and schemes webhook URLs may use, from the settings."""

    def __init__(self, allow_http: bool, allowed_networks: Sequence[Network]) -> None:
        self.allow_http = allow_http
        self.allowed_networks = tuple(allowed_networks)

    def allows(self, address: IPAddress) -> bool:
        """Public addresses, and any address inside a network the configuration allows."""
        return is_public(address) or any(
            address.version == net.version and address in net for net in self.allowed_networks
        )

    def check_address(self, host: str, address: IPAddress) -> None:
        """Raise RefusedAddress unless `address` (which `host` names) may be reached."""
        if not self.allows(address):
            shown = host if host == str(address) else f"{host} ({address})"
            raise RefusedAddress(f"{shown} is not a public address")

    def check_scheme(self, url: str) -> None:
        """Raise RefusedAddress for anything but https (and http where allowed)."""
        scheme = _split(url).scheme
        allowed = ("https", "http") if self.allow_http else ("https",)
        if scheme not in allowed:
            raise RefusedAddress(f"the URL must use {' or '.join(allowed)}")

    def check_target(self, url: str) -> None:
        """The connect-time check of what skips the resolver: the scheme and an IP literal host.

        (A host name is checked by GuardedResolver, on the addresses the client then dials.)
        """
        self.check_scheme(url)
        host = _split(url).hostname or ""
        literal = _literal(host)
        if literal is not None:
            self.check_address(host, literal)

    async def check_url(self, url: str) -> None:
        """The registration check: scheme, no credentials, and every address the host has."""
        self.check_scheme(url)
        parts = _split(url)
        if parts.username is not None or parts.password is not None:
            raise RefusedAddress("the URL must not carry credentials")
        host = parts.hostname
        if not host:
            raise RefusedAddress("the URL has no host")
        literal = _literal(host)
        if literal is not None:
            self.check_address(host, literal)
            return
        for address in await _resolve(host):
            self.check_address(host, address)

    def resolver(self) -> "GuardedResolver":
        """A resolver for the HTTP client that refuses what this policy refuses."""
        return GuardedResolver(self)


def address_policy(settings: Settings) -> AddressPolicy:
    """The SSRF policy the settings describe."""
    return AddressPolicy(settings.webhook_allow_http, settings.webhook_allowed_networks)


def _split(url: str) -> SplitResult:
    """The URL's parts, as strictly as the HTTP client will read them."""
    try:
        parts = urlsplit(url)
        _ = parts.port
        URL(url)
    except ValueError as exc:
        raise RefusedAddress(f"not a valid URL: {exc}") from exc
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def _resolve(host: str) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_SECONDS):
            infos = await loop.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise RefusedAddress(f"{host} does not resolve") from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing the whole answer when any address is not allowed."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self.policy.check_address(host, ipaddress.ip_address(result["host"]))
        return results

    async def close(self) -> None:
        await self._inner.close()
