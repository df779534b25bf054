"""What the bot may download: only the result URLs a provider may name.

A provider's answer names the clip's URL, and the bot fetches it; a hostile or compromised provider (or a
redirect) could point it at the bot's own network instead: loopback, the LAN, a cloud metadata service.
So downloads go through a session from `open_download_session`, which

- allows `https` only (and `http` with ALLOW_LOCAL_PROVIDER_URLS=true, for offline tests against fakes);
- resolves each host name asynchronously and refuses it unless *every* address is public (not loopback,
  private, link-local, multicast, reserved or unspecified, nor 169.254.169.254 / fd00:ec2::254), and
  connects only to those checked addresses (the resolver's answer is what aiohttp connects to, so a DNS
  rebind between check and connect is not possible);
- refuses an address literal in the URL by the same rule;
- and `bot.media.download` follows redirects itself, re-checking every hop, at most `MAX_REDIRECTS`.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bot.errors import MediaError

MAX_REDIRECTS = 5
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeUrlError(MediaError):
    """A result URL the bot will not fetch (scheme or address not allowed)."""

    code = "unsafe_url"


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and not ip.is_reserved and ip not in METADATA


def _literal(host: str) -> str | None:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    return host.strip("[]")


class UrlPolicy:
    def __init__(self, *, allow_local: bool) -> None:
        self.allow_local = allow_local

    def check(self, url: URL) -> None:
        """Raise UnsafeUrlError unless `url` may be fetched (the host name itself is checked on resolving)."""
        allowed = ("https", "http") if self.allow_local else ("https",)
        if url.scheme not in allowed:
            raise UnsafeUrlError(f"refused to fetch a {url.scheme or 'relative'}: URL (only {', '.join(allowed)})")
        if not url.host:
            raise UnsafeUrlError("refused to fetch a URL without a host")
        literal = _literal(url.host)
        if literal is not None and not self.allow_local and not is_public_address(literal):
            raise UnsafeUrlError(f"refused to fetch from a non-public address ({literal})")


class PublicResolver(AbstractResolver):
    """Resolves through aiohttp's default resolver and refuses a host unless every address is public."""

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self.policy.allow_local:
            refused = sorted({r["host"] for r in results if not is_public_address(r["host"])})
            if refused:
                raise UnsafeUrlError(f"refused to fetch from {host}: it resolves to non-public {', '.join(refused)}")
        return results

    async def close(self) -> None:
        await self._inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector whose resolver enforces `policy`; `bot.media.download` reads the policy from it."""

    def __init__(self, policy: UrlPolicy, **kw: Any) -> None:
        super().__init__(resolver=PublicResolver(policy), **kw)
        self.url_policy = policy


def open_download_session(*, allow_local: bool, **kw: Any) -> aiohttp.ClientSession:
    """A session for fetching provider-named URLs under the policy above."""
    return aiohttp.ClientSession(connector=GuardedConnector(UrlPolicy(allow_local=allow_local)), **kw)


def policy_of(session: aiohttp.ClientSession) -> UrlPolicy | None:
    connector = session.connector
    return connector.url_policy if isinstance(connector, GuardedConnector) else None
