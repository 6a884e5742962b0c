"""Enhanced authentication (MQTT 5.0 section 4.12): the Authenticator interface.

Pass one as ``authenticator=`` and the client runs the AUTH exchange:

1. CONNECT carries ``method`` as the Authentication Method and ``initial_data()``
   as the Authentication Data (each connection, each reconnect).
2. Each AUTH 0x18 (Continue authentication) from the server goes to
   ``handle_challenge(data, 0x18)``; what it returns is sent back in AUTH 0x18.
3. The server accepts with CONNACK 0 (or, after ``await client.reauthenticate()``,
   with AUTH 0x00). Authentication Data it sends along goes to
   ``handle_challenge(data, 0x00)`` -- the place to check the server's proof, such as
   SCRAM's server signature; the return value is not sent -- and then ``complete()``
   is called.

Every method is called synchronously by the protocol layer, between packets: keep
them short (re-authentication runs while messages flow). Coroutine functions are not
supported. Any exception they raise ends the exchange: the client sends DISCONNECT
(0x80, Unspecified error) and the connection attempt or ``reauthenticate()`` raises
``mq.NotAuthorized`` (the authenticator's own if it raised one, else one that quotes
its error). Unlike the Go
library, an error from ``complete()`` fails the connection too: that is how an
authenticator refuses a server that did not prove itself.

A server refusal arrives as CONNACK 0x87 (``mq.NotAuthorized``) or 0x8C (Bad
authentication method, ``mq.ConnectionRefused``), or, during re-authentication, as a
DISCONNECT (``mq.DisconnectError``). Enhanced authentication exists only in MQTT 5.0:
on a 3.1.1 connection the authenticator is not used.
"""

from ._compat import const

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Optional


class Authenticator:
    """Base class (and documentation) of an enhanced authentication method.
    Subclasses set ``method`` and override what they need."""

    method = ""  # the Authentication Method, e.g. "SCRAM-SHA-256"

    def initial_data(self) -> "Optional[bytes]":
        """Authentication Data for CONNECT (or for AUTH 0x19 when re-authenticating);
        None for none. Called once per exchange: start a new one here."""
        return None

    def handle_challenge(self, data: bytes, reason_code: int) -> "Optional[bytes]":
        """The server's Authentication Data (b"" if none). reason_code 0x18: return the
        response for AUTH 0x18. reason_code 0x00: the server's final data that came with
        its success (CONNACK 0 or AUTH 0x00); verify it, the return value is ignored.
        Raise to fail the authentication. This default accepts final data and refuses
        any challenge."""
        if reason_code:
            raise ValueError("unexpected authentication challenge")
        return None

    def complete(self) -> None:
        """The server accepted the authentication (after its final data, if any went to
        handle_challenge). Raise to refuse the server after all."""
