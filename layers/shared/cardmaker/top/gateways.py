"""Which TOP gateways we may call, and whose orders' cards may go through each.

Two rules, both read from the gateway's URL alone:

* **Transport.** Every call carries the app key, the session key and card secrets, and its
  sign authenticates the request: a gateway is ``https://``, except a loopback address
  (127.0.0.0/8, ::1, ``localhost``), where nothing leaves the machine (the local stack's fake
  gateway).
* **Environments.** ``own_sign`` says which platform environment an order came from
  (``daily`` and ``pre`` are the platform's test environments, ``online`` is production). A
  production gateway hands cards to real buyers, so it delivers only ``online`` orders: a test
  order's cards must never reach a real buyer. TOP's sandbox and a loopback gateway deliver
  every environment's orders (that is what joint testing and the local stack do).
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from cardmaker.errors import TopConfigError

GatewayKind = Literal["production", "sandbox", "loopback"]

# TOP's sandbox gateway; any other non-loopback host is taken for production (eco.taobao.com,
# gw.api.taobao.com, a proxy in front of them): when in doubt, the stricter rule.
SANDBOX_HOSTS = frozenset({"gw.api.tbsandbox.com"})
ALL_ENVIRONMENTS = frozenset({"daily", "pre", "online"})
ENVIRONMENTS_SERVED: dict[GatewayKind, frozenset[str]] = {
    "production": frozenset({"online"}),
    "sandbox": ALL_ENVIRONMENTS,
    "loopback": ALL_ENVIRONMENTS,
}


def check_gateway_url(url: str, name: str = "the TOP gateway URL") -> str:
    """``url`` if it is a gateway we may call; else ``TopConfigError`` naming ``name`` (the
    variable it came from), never the URL (it could carry credentials)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TopConfigError(f"{name} must be an https:// URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise TopConfigError(f"{name} must be https:// (http:// only to a loopback address)")
    return url


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or ``localhost`` (``urlsplit`` gives hosts lower case, unbracketed)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def gateway_kind(url: str) -> GatewayKind:
    host = (urlsplit(url).hostname or "").rstrip(".")
    if is_loopback(host):
        return "loopback"
    if host in SANDBOX_HOSTS:
        return "sandbox"
    return "production"


def serves_environment(url: str, own_sign: str) -> bool:
    """May an order of platform environment ``own_sign`` be delivered through ``url``?"""
    return own_sign in ENVIRONMENTS_SERVED[gateway_kind(url)]
