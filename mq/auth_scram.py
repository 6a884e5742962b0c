"""SCRAM-SHA-256 (RFC 5802, RFC 7677), the client side, as an mq Authenticator.

    client = await mq.dial(url, authenticator=mq.ScramSHA256("user", "pencil"))

The exchange in MQTT 5.0 terms (section 4.12):

    CONNECT  method "SCRAM-SHA-256", data client-first   "n,,n=user,r=<client nonce>"
    AUTH 18  data server-first   "r=<client nonce><server nonce>,s=<salt>,i=<iterations>"
    AUTH 18  data client-final   "c=biws,r=<nonce>,p=<client proof>"
    CONNACK 0 (or AUTH 00 when re-authenticating) data server-final "v=<server signature>"

The server signature is checked: a server that cannot produce it (an impostor, or one
that does not know the password) is refused with ``mq.NotAuthorized`` even though it
accepted the connection; so is a server that accepts without sending it.

Cost: the salted password takes ``iterations`` HMAC-SHA256 computations (PBKDF2; RFC
7677 asks for at least 4096). It is done once per salt and iteration count and kept,
so re-authenticating and reconnecting to the same server are cheap. 4096 iterations
take about 4 ms on CPython and 8 ms on the MicroPython unix port (x86-64); a
microcontroller is some 50-100 times slower (not measured here): expect up to a second,
during which the event loop does not run. ``max_iterations`` bounds what a server may
ask for.

Usernames and passwords are used as UTF-8 as they are: SASLprep (RFC 4013) is not
applied, so only strings it leaves unchanged are supported -- ASCII without control
characters always is. ``,`` and ``=`` in the username are escaped as the RFC requires.
No channel binding (the GS2 header is ``n,,``), no authorization identity.
"""

import hashlib
from binascii import a2b_base64, b2a_base64

from ._compat import const
from .auth import Authenticator
from .errors_refused import NotAuthorized

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Optional, Tuple, Union

    Bytes = Union[bytes, bytearray, memoryview]

_GS2 = b"n,,"
_IDLE = 0
_FIRST = 1  # client-first sent
_FINAL = 2  # client-final sent
_VERIFIED = 3  # server signature checked
_IPAD = int.from_bytes(b"\x36" * 64, "big")
_OPAD = int.from_bytes(b"\x5c" * 64, "big")


def _pads(key: "Bytes") -> "Tuple[bytes, bytes]":
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = int.from_bytes(bytes(key) + bytes(64 - len(key)), "big")
    return (k ^ _IPAD).to_bytes(64, "big"), (k ^ _OPAD).to_bytes(64, "big")


def hmac_sha256(key: "Bytes", msg: "Bytes") -> bytes:
    """HMAC-SHA256 (RFC 2104) on hashlib alone: MicroPython has no hmac module."""
    ipad, opad = _pads(key)
    h = hashlib.sha256(ipad)
    h.update(msg)
    o = hashlib.sha256(opad)
    o.update(h.digest())
    return o.digest()


def pbkdf2_sha256(password: "Bytes", salt: "Bytes", iterations: int) -> bytes:
    """PBKDF2-HMAC-SHA256 with a 32-byte result: SCRAM's Hi(password, salt, i)."""
    ipad, opad = _pads(password)
    sha = hashlib.sha256
    u = bytes(salt) + b"\x00\x00\x00\x01"
    acc = 0
    for _ in range(iterations):
        h = sha(ipad)
        h.update(u)
        o = sha(opad)
        o.update(h.digest())
        u = o.digest()
        acc ^= int.from_bytes(u, "big")  # one big-int XOR instead of 32 byte operations
    return acc.to_bytes(32, "big")


def _b64(data: bytes) -> bytes:
    return b2a_base64(data)[:-1]  # without the newline


def _equal(a: bytes, b: bytes) -> bool:
    # Not short-circuiting on the first differing byte.
    return len(a) == len(b) and int.from_bytes(a, "big") ^ int.from_bytes(b, "big") == 0


def saslname(username: str) -> bytes:
    """The username as SCRAM sends it: UTF-8, ``=`` as ``=3D`` and ``,`` as ``=2C``."""
    if "\x00" in username:
        raise ValueError("a SCRAM username cannot contain NUL")
    return username.encode().replace(b"=", b"=3D").replace(b",", b"=2C")


def _new_nonce() -> bytes:
    try:
        from os import urandom

        raw = urandom(18)
    except (ImportError, AttributeError):
        import random

        raw = bytes(random.getrandbits(8) for _ in range(18))
    return _b64(raw)  # printable, never ","


def _text(b: bytes) -> str:
    try:
        return b.decode()
    except ValueError:
        return repr(b)


def _fail(what: str) -> NotAuthorized:
    return NotAuthorized("SCRAM-SHA-256: " + what)


class ScramSHA256(Authenticator):
    """The client side of SCRAM-SHA-256. ``nonce`` fixes the client nonce (for tests
    only: a real client needs a fresh one per exchange, which is the default)."""

    method = "SCRAM-SHA-256"

    def __init__(
        self,
        username: str,
        password: "Union[str, bytes]",
        nonce: "Optional[Union[str, bytes]]" = None,
        max_iterations: int = 100000,
    ) -> None:
        self._user = saslname(username)
        self._password = password.encode() if isinstance(password, str) else bytes(password)
        if isinstance(nonce, str):
            nonce = nonce.encode()
        if nonce is not None and (not nonce or b"," in nonce):
            raise ValueError("a SCRAM nonce is non-empty printable text without ','")
        self._fixed_nonce = nonce
        self.max_iterations = max_iterations
        self._state = _IDLE
        self._nonce = b""
        self._first_bare = b""
        self._server_signature = b""
        # (salt, iterations, client key, stored key, server key) of the last exchange
        self._keys: "Optional[Tuple[bytes, int, bytes, bytes, bytes]]" = None

    def initial_data(self) -> bytes:
        """client-first-message; begins a new exchange."""
        self._nonce = self._fixed_nonce or _new_nonce()
        self._first_bare = b"n=" + self._user + b",r=" + self._nonce
        self._state = _FIRST
        self._server_signature = b""
        return _GS2 + self._first_bare

    def handle_challenge(self, data: bytes, reason_code: int) -> "Optional[bytes]":
        if reason_code == 0x18 and self._state == _FIRST:
            return self._client_final(bytes(data))
        if reason_code == 0 and self._state == _FINAL:
            self._verify(bytes(data))
            return None
        self._state = _IDLE
        raise _fail("unexpected message (reason code 0x%02X)" % reason_code)

    def complete(self) -> None:
        ok = self._state == _VERIFIED
        self._state = _IDLE
        if not ok:
            raise _fail("the server accepted without proving it knows the password (no server signature)")

    def _client_final(self, server_first: bytes) -> bytes:
        self._state = _IDLE  # until this succeeds
        attrs = server_first.split(b",")
        if attrs[0].startswith(b"e="):
            raise _fail("server error: %s" % _text(attrs[0][2:]))
        if attrs[0].startswith(b"m="):
            raise _fail("the server requires an extension this client does not support")
        if len(attrs) < 3 or attrs[0][:2] != b"r=" or attrs[1][:2] != b"s=" or attrs[2][:2] != b"i=":
            raise _fail("malformed server-first-message")
        nonce = attrs[0][2:]
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise _fail("the server's nonce does not extend ours")
        try:
            salt = a2b_base64(attrs[1][2:])
            iterations = int(attrs[2][2:])
        except ValueError:
            raise _fail("malformed salt or iteration count")
        if not salt or not 0 < iterations <= self.max_iterations:
            raise _fail("unacceptable salt or iteration count (%d; max_iterations=%d)"
                        % (iterations, self.max_iterations))
        client_key, stored_key, server_key = self._salted_keys(salt, iterations)
        without_proof = b"c=" + _b64(_GS2) + b",r=" + nonce
        auth_message = self._first_bare + b"," + server_first + b"," + without_proof
        signature = hmac_sha256(stored_key, auth_message)
        proof = (int.from_bytes(client_key, "big") ^ int.from_bytes(signature, "big")).to_bytes(32, "big")
        self._server_signature = hmac_sha256(server_key, auth_message)
        self._state = _FINAL
        return without_proof + b",p=" + _b64(proof)

    def _salted_keys(self, salt: bytes, iterations: int) -> "Tuple[bytes, bytes, bytes]":
        k = self._keys
        if k is None or k[0] != salt or k[1] != iterations:
            salted = pbkdf2_sha256(self._password, salt, iterations)
            client_key = hmac_sha256(salted, b"Client Key")
            stored_key = hashlib.sha256(client_key).digest()
            k = (salt, iterations, client_key, stored_key, hmac_sha256(salted, b"Server Key"))
            self._keys = k
        return k[2], k[3], k[4]

    def _verify(self, server_final: bytes) -> None:
        self._state = _IDLE
        attr = server_final.split(b",")[0]
        if attr.startswith(b"e="):
            raise _fail("server error: %s" % _text(attr[2:]))
        if not attr.startswith(b"v="):
            raise _fail("malformed server-final-message")
        try:
            got = a2b_base64(attr[2:])
        except ValueError:
            raise _fail("malformed server signature")
        if not _equal(got, self._server_signature):
            raise _fail("wrong server signature: the server does not know the password")
        self._state = _VERIFIED
