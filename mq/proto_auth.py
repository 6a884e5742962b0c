"""Enhanced authentication, sans I/O: the AUTH exchanges of a connection (MQTT 5.0
section 4.12) around a user's Authenticator (see auth.py).

The Protocol owns one AuthExchange when the client has an authenticator. It adds the
Authentication Method and data to CONNECT, answers the server's AUTH 0x18 and checks
the rules: every AUTH carries our method [MQTT-4.12.0-5], the server never sends 0x19,
and 0x00 only ends a re-authentication (the first exchange ends with CONNACK). Those
violations raise ProtocolError (DISCONNECT 0x82); whatever the authenticator raises
becomes NotAuthorized, on which the Protocol sends DISCONNECT 0x80.
"""

from ._compat import const
from .errors import ProtocolError
from .errors_refused import NotAuthorized
from .wire_packets import Auth
from .wire_props import Properties

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .auth import Authenticator
    from .wire_packets import Connect, Packet

_SUCCESS = 0x00
_CONTINUE = 0x18
_REAUTHENTICATE = 0x19


def _call(fn: "Callable[..., Any]", *args: "Any") -> "Any":
    try:
        return fn(*args)
    except NotAuthorized:
        raise
    except Exception as e:
        raise NotAuthorized("authentication failed: %s" % (str(e) or type(e).__name__)) from e


def _data(value: "Any") -> "Optional[bytes]":
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value) if value else None
    raise TypeError("authentication data must be bytes, not %s" % type(value).__name__)


class AuthExchange:
    def __init__(self, authenticator: "Authenticator") -> None:
        method = authenticator.method
        if not method or not isinstance(method, str):
            raise ValueError("an authenticator needs a method name")
        self.authenticator = authenticator
        self.method = method
        self.enabled = False  # this connection authenticated with our method
        self.active = False  # an exchange is in progress

    def start(self, connect: "Connect") -> None:
        """A new connection: put the method and the initial data into a v5 CONNECT.
        On 3.1.1 there is no enhanced authentication: the authenticator is not used."""
        self.enabled = self.active = False
        if connect.version != 5:
            return
        props = connect.properties
        if props is None:
            props = connect.properties = Properties()
        props.authentication_method = self.method
        props.authentication_data = _call(self._initial_data)
        self.enabled = self.active = True

    def reauthenticate(self) -> "Packet":
        """The AUTH 0x19 that begins a re-authentication [MQTT-4.12.1-1]."""
        if not self.enabled:
            raise ValueError("this connection did not use enhanced authentication")
        if self.active:
            raise ValueError("an authentication exchange is in progress")
        data = _call(self._initial_data)
        self.active = True
        return Auth(_REAUTHENTICATE, Properties(authentication_method=self.method, authentication_data=data))

    def on_auth(self, packet: "Packet", connecting: bool) -> "Optional[Packet]":
        """An AUTH from the server: the AUTH to answer with, or None when it ends a
        re-authentication successfully."""
        if not self.active:
            raise ProtocolError("AUTH from the server outside an authentication exchange")
        props = packet.properties
        method = props.authentication_method if props is not None else None
        if method != self.method:
            raise ProtocolError("AUTH for authentication method %r, not %r" % (method, self.method))
        code = packet.reason_code
        if code == _CONTINUE:
            data = (props.authentication_data if props is not None else None) or b""
            reply = _call(self._challenge, data, code)
            return Auth(_CONTINUE, Properties(authentication_method=self.method, authentication_data=reply))
        if code == _SUCCESS and not connecting:
            self.succeeded(props)
            return None
        raise ProtocolError("AUTH with reason code 0x%02X from the server" % code)

    def succeeded(self, props: "Optional[Properties]") -> None:
        """The server accepted (CONNACK 0, or AUTH 0x00): its final data, if any, goes
        to handle_challenge(data, 0), then complete(). Raises NotAuthorized if the
        authenticator refuses the server."""
        self.active = False
        if props is not None:
            method = props.authentication_method
            # A successful CONNACK must repeat the method [MQTT-4.12.0-5]; some servers
            # leave it out, which is tolerated, but a different one is not.
            if method is not None and method != self.method:
                raise ProtocolError("CONNACK for authentication method %r, not %r" % (method, self.method))
            if props.authentication_data is not None:
                _call(self.authenticator.handle_challenge, props.authentication_data, _SUCCESS)
        _call(self.authenticator.complete)

    def _initial_data(self) -> "Optional[bytes]":
        return _data(self.authenticator.initial_data())

    def _challenge(self, data: bytes, code: int) -> "Optional[bytes]":
        return _data(self.authenticator.handle_challenge(data, code))
