"""TLS: client contexts from PEM or DER files on either runtime, MicroPython's TLS
stream reader, and clear errors for failed handshakes."""

from ._compat import MICROPYTHON, const

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Optional

    from .io_transport import ServerURL


def tls_context(
    cafile: "Optional[str]" = None,
    certfile: "Optional[str]" = None,
    keyfile: "Optional[str]" = None,
    verify: bool = True,
) -> "Any":
    """A client SSLContext on either runtime, from PEM or DER files. It verifies the
    server's certificate and host name unless verify=False. MicroPython has no system
    CA store: give cafile there (its default context verifies nothing; this one does)."""
    import ssl

    if not MICROPYTHON:
        if cafile is not None and not _is_pem(cafile):
            ctx = ssl.create_default_context(cadata=_der(cafile))  # a DER certificate
        else:
            ctx = ssl.create_default_context(cafile=cafile)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if certfile is not None:
            if not _is_pem(certfile) or (keyfile is not None and not _is_pem(keyfile)):
                raise ValueError("CPython's ssl reads a client certificate and key from PEM files only")
            ctx.load_cert_chain(certfile, keyfile)
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        if cafile is None:
            raise ValueError("MicroPython has no CA store: tls_context(cafile=...) is needed to verify the server")
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=_der(cafile))
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if certfile is not None:
        ctx.load_cert_chain(_der(certfile), _der(keyfile if keyfile is not None else certfile, key=True))
    return ctx


def _der(path: str, key: bool = False) -> bytes:
    # MicroPython's mbedtls build here reads DER only: convert the first PEM block.
    import binascii

    with open(path, "rb") as f:
        data = f.read()
    if b"-----BEGIN " not in data:
        return data
    text = data.decode()
    begin = text.find("-----BEGIN ")
    if key:
        # Skip certificates that may precede the key in a combined file.
        k = text.find("PRIVATE KEY-----")
        if k >= 0:
            begin = text.rfind("-----BEGIN ", 0, k)
    start = text.find("\n", begin) + 1
    end = text.find("-----END", start)
    return binascii.a2b_base64("".join(text[start:end].split()))


def _is_pem(path: str) -> bool:
    with open(path, "rb") as f:
        return b"-----BEGIN " in f.read()


def handshake_error(
    server: "ServerURL", ssl_option: "Any", dialer: "Any", err: "Optional[BaseException]"
) -> BaseException:
    """The error to raise for a connection lost before CONNACK. Over TLS it says so, and
    names the cause where the runtime's own error does not: MicroPython's mbedTLS reports
    a failed certificate check as a bare ValueError, and a server that requires a client
    certificate just drops the connection (a reset or broken pipe here)."""
    if err is None:
        err = OSError("connection closed during the handshake")
    use_tls = server.tls if ssl_option is None else ssl_option is not False
    if dialer is not None or not use_tls:
        return err
    if MICROPYTHON and type(err) is ValueError:  # mbedTLS: "The certificate is not correctly signed..."
        return OSError("TLS connection to %s: certificate verify failed: %s" % (server, str(err).strip()))
    if isinstance(err, OSError) and not _ssl_error(err):
        errno = err.args[0] if err.args and isinstance(err.args[0], int) else None
        msg = "TLS connection to %s closed by the server before CONNACK (%s); does it require a client certificate?"
        new = OSError(errno, msg % (server, err)) if errno is not None else OSError(msg % (server, err))
        if not MICROPYTHON:
            new.__cause__ = err
        return new
    return err


def _ssl_error(err: BaseException) -> bool:
    # CPython's own TLS errors say what failed already.
    if MICROPYTHON:
        return False
    import ssl

    return isinstance(err, ssl.SSLError)


class TLSReader:
    """MicroPython's TLS stream: readinto gives None, not 0, while the handshake or a TLS
    record is incomplete (0 alone is the end of the stream): wait for real data."""

    def __init__(self, stream: "Any") -> None:
        self.stream = stream

    async def readinto(self, buf: "Any") -> int:
        while True:
            n = await self.stream.readinto(buf)
            if n is not None:
                return int(n)


def default_context() -> "Any":
    if MICROPYTHON:
        raise ValueError("TLS on MicroPython needs ssl=mq.tls_context(cafile=...): there is no system CA store")
    return tls_context()
