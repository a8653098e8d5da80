"""The address of the client of a request, for rate limits and the admin login lockout.

Invariants:
- without OMS_TRUSTED_PROXIES the client is REMOTE_ADDR, whatever X-Forwarded-For says (a
  client can write any header; only the socket's peer is known);
- with OMS_TRUSTED_PROXIES (addresses or networks of our own reverse proxies), and only when
  the peer is one of them, X-Forwarded-For is read from the right, skipping the trusted proxies:
  the first hop that is not one of ours is the client. Hops further left were written by the
  client and are never believed;
- a limit keys IPv4 clients by address and IPv6 clients by their /64 network (one subscriber
  holds a whole /64, so counting single IPv6 addresses would count nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """The networks of OMS_TRUSTED_PROXIES. Raises ValueError for a malformed entry."""
    return _networks(tuple(entries))


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = value.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Any, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def address_in(text: str, entries: Iterable[str]) -> bool:
    """Is the address `text` in one of the networks `entries` (a list such as
    OMS_METRICS_ALLOWED_IPS)? False for an empty list or a text that is no address."""
    networks = trusted_networks(entries)
    address = _address(text)
    return bool(networks and address is not None and _trusted(address, networks))


def client_ip(request: Any) -> str:
    """The client's address as text ("" when the request has none, as in some tests)."""
    meta = request.META
    peer = _address(str(meta.get("REMOTE_ADDR") or ""))
    if peer is None:
        return ""
    networks = trusted_networks(getattr(settings, "OMS_TRUSTED_PROXIES", ()))
    if not networks or not _trusted(peer, networks):
        return str(peer)
    hops = [h for h in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage from here on: the last good hop is the best we know
        client = address
        if not _trusted(address, networks):
            break
    return str(client)


def address_key(ip: str) -> str:
    """The rate-limit identity of an address: itself for IPv4, its /64 for IPv6."""
    address = _address(ip)
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)
