"""Who is calling: the socket's address, or, behind trusted proxies, X-Forwarded-For.

X-Forwarded-For is appended to by each proxy, so only the part written by proxies
we trust is believable: walk it from the right, skip trusted proxies, and take the
first address that is not one. Anything left of that was written by the client.
This module is the only authority: uvicorn runs with its own proxy-header handling
off (`--no-proxy-headers`), so the socket peer reaches us unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network


def client_ip(peer: str | None, forwarded_for: list[str], trusted: list[Network]) -> str | None:
    """The client's address; `forwarded_for` holds every X-Forwarded-For header value."""
    if peer is None or not _is_trusted(peer, trusted):
        return peer
    candidate = peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        parsed = _parse(hop)
        if parsed is None:
            break  # garbage from the client side: keep the last address a proxy vouched for
        candidate = str(parsed)
        if not _is_trusted(candidate, trusted):
            break
    return candidate


@lru_cache(maxsize=4096)
def client_bucket(address: str | None, ipv6_prefix_length: int) -> str:
    """What per-IP budgets count: an IPv4 address, or the IPv6 prefix it belongs to.

    One IPv6 subscriber holds a whole /64 (2^64 addresses), so counting per /128 would
    give one client endless budgets; IPv4-mapped IPv6 is counted as the IPv4 address.
    Kept, as `_parse` is: every request asks, and an address's text is rebuilt each time
    (2 % of a signed-in read). Its argument is a parsed address or the peer's own.
    """
    if address is None:
        return "unknown"
    parsed = _parse(address)
    if parsed is None:
        return address
    if isinstance(parsed, IPv6Address):
        return str(ip_network(f"{parsed}/{ipv6_prefix_length}", strict=False))
    return str(parsed)


def from_trusted_proxy(peer: str | None, trusted: list[Network]) -> bool:
    """True when the socket peer is one of TRUSTED_PROXIES: only then are headers a proxy
    writes (X-Forwarded-For, X-Request-ID) believed."""
    return peer is not None and _is_trusted(peer, trusted)


def _is_trusted(address: str, trusted: list[Network]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in network for network in trusted)


LONGEST_ADDRESS = 64  # 45 characters of IPv6 (IPv4 tail included) and a `%zone`


@lru_cache(maxsize=4096)
def _parse(address: str) -> IPv4Address | IPv6Address | None:
    """The address, with IPv4-mapped IPv6 (a dual-stack socket's `::ffff:a.b.c.d`) as IPv4.
    Kept: every request parses its peer up to three times, and peers repeat. Nothing
    longer than any address (an IPv6 one with its zone) is kept, or parsed."""
    if len(address) > LONGEST_ADDRESS:
        return None
    try:
        parsed = ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed
