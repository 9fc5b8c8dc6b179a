"""Where a delivery may go (SSRF): the endpoint's name is resolved at each delivery, and
the request goes to the address that was checked, never to a second resolution, so a
name that answers a public address to a check and 127.0.0.1 to the connection (DNS
rebinding) gets nowhere.

Refused unless WEBHOOK_ALLOW_PRIVATE: plain http://, and any address that is not global
(loopback, private, link-local, which holds the cloud metadata address 169.254.169.254,
shared, reserved, multicast, unspecified), IPv4-mapped IPv6 included. A name with one
refused address among its answers is refused whole."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

import httpx2


class AddressRefused(Exception):
    """The endpoint's URL or address may not be called; the message says why (no secret)."""


@dataclass(frozen=True)
class Target:
    """The request to make: `urls` name the checked addresses (tried in the resolver's
    order until one connects); `host` goes in the Host header and the TLS server name, so
    the certificate is still checked against the name."""

    urls: tuple[httpx2.URL, ...]
    host: str

    @property
    def url(self) -> httpx2.URL:
        return self.urls[0]


def shape_problem(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with an endpoint URL on its face (None: nothing); its address is
    checked at each delivery."""
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError):
        return "Not a URL."
    if parsed.scheme not in ("https", "http") or not parsed.host:
        return "An https:// URL with a host."
    if parsed.scheme == "http" and not allow_private:
        return "Plain http:// is refused: use https://."
    if parsed.userinfo:
        return "A URL without a user name or password."
    return None


def refused_address(address: IPv4Address | IPv6Address) -> bool:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


async def resolve(url: str, *, allow_private: bool) -> Target:
    """The checked target for `url` now; AddressRefused if it may not be called."""
    problem = shape_problem(url, allow_private=allow_private)
    if problem is not None:
        raise AddressRefused(problem)
    parsed = httpx2.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"the name does not resolve ({type(error).__name__})") from None
    addresses = list(dict.fromkeys(ip_address(str(answer[4][0]).split("%")[0]) for answer in answers))
    if not addresses:
        raise AddressRefused("the name does not resolve")
    if not allow_private:
        for address in addresses:
            if refused_address(address):
                raise AddressRefused(f"{parsed.host} resolves to a non-public address ({address})")
    host = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    return Target(urls=tuple(parsed.copy_with(host=str(address)) for address in addresses), host=host)
