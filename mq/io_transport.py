"""Network connections: server URLs, TCP streams, user dialers. TLS is in io_tls,
loaded only by a client that uses it."""

import asyncio

from ._compat import MICROPYTHON, const, set_nodelay

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Awaitable, Callable, Optional, Tuple

    Dialer = Callable[[str, str], Awaitable[Tuple[Any, Any]]]


class ServerURL:
    def __init__(self, url: str) -> None:
        self.url = url
        scheme, sep, rest = url.partition("://")
        if not sep:
            scheme, rest = "mqtt", url
        self.scheme = scheme.lower()
        rest = rest.split("/", 1)[0]
        if "@" in rest:
            raise ValueError("put credentials in username= and password=, not in the URL")
        # tls, ssl and mqtts: TLS on port 8883 by default; tcp, mqtt (and a dialer's own
        # schemes): port 1883. No table: a dict would be built in the heap at import.
        self.tls = self.scheme in ("tls", "ssl", "mqtts")
        if rest.startswith("["):  # [IPv6]:port
            end = rest.find("]")
            if end < 0:
                raise ValueError("bad server address: " + url)
            self.host = rest[1:end]
            port = rest[end + 2 :] if rest[end + 1 : end + 2] == ":" else ""
        else:
            host, _, port = rest.partition(":")
            self.host = host
        if not self.host:
            raise ValueError("no host in server address: " + url)
        try:
            self.port = int(port) if port else (8883 if self.tls else 1883)
        except ValueError:
            raise ValueError("bad port in server address: " + url) from None

    def __repr__(self) -> str:
        return self.url


async def open_transport(server: ServerURL, ssl_option: "Any", dialer: "Optional[Dialer]") -> "Tuple[Any, Any]":
    """Open a stream pair to server. ssl_option: None (by scheme), True, False or an SSLContext."""
    if dialer is not None:
        return await dialer(server.scheme, server.url)
    use_tls = server.tls if ssl_option is None else ssl_option is not False
    ctx = None
    if use_tls:
        from .io_tls import default_context

        ctx = ssl_option if (ssl_option is not None and ssl_option is not True) else default_context()
    if ctx is None:
        reader, writer = await asyncio.open_connection(server.host, server.port)
    else:
        reader, writer = await asyncio.open_connection(server.host, server.port, ssl=ctx, server_hostname=server.host)
    set_nodelay(writer)
    if ctx is not None and MICROPYTHON:
        from .io_tls import TLSReader

        return TLSReader(reader), writer
    return reader, writer
