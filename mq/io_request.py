"""Request/response over MQTT 5.0 (Response Topic and Correlation Data).

``Client.request`` publishes a request and returns the matching response message.
The client subscribes once (at QoS 1), on its first request, to its response topic:

- ``<Response Information>/responses`` when the server gave Response Information in
  CONNACK (it gives it only when asked: dial with ``request_response_info=True``);
- otherwise ``mq/<client id>/responses``, the client id being the one configured or the
  one the server assigned; without either (or with one that cannot be a topic level),
  16 random hex digits.

Every request carries Correlation Data of its own (8 random bytes for this client, then
a 4-byte counter); a response is matched by it alone, so concurrent requests each get
theirs, and a response to a request that has timed out (or to another client using the
same topic) is ignored. The response subscription is a normal one: handler interceptors
see responses too.

``Client.respond`` answers a request: to its Response Topic, with its Correlation Data
and, unless told otherwise, its QoS. ``Client.serve(filter, fn)`` subscribes and answers
every request with what ``fn(client, message)`` returns: a payload, or None for no answer;
a coroutine function runs on the handler dispatcher like any coroutine handler. Messages
without a Response Topic get no answer; an exception in fn is logged like a handler's.
"""

import asyncio
import random

from ._compat import const
from .codes import V50
from .errors import MQTTError
from .wire_topic import check_topic_name

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional

    from .io_client import Client
    from .io_token import Token
    from .wire_packets import Message

_PREFIX = "mq"
_SUFFIX = "responses"


def _random_bytes(n: int) -> bytes:
    return bytes(random.getrandbits(8) for _ in range(n))


def _hex(b: bytes) -> str:
    return "".join("%02x" % x for x in b)


class _Pending:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.message: "Optional[Message]" = None


class Requester:
    """The requesting side of one client: its response topic and pending requests."""

    def __init__(self, client: "Client") -> None:
        self.client = client
        self.topic: "Optional[str]" = None  # the response topic, once chosen
        self._sub: "Optional[Token]" = None  # the SUBSCRIBE for it
        self.pending: "Dict[bytes, _Pending]" = {}
        self._id = _random_bytes(8)
        self._n = 0

    def response_topic(self) -> str:
        c = self.client
        info = c.response_information
        if info:
            t = info + ("" if info.endswith("/") else "/") + _SUFFIX
            try:
                check_topic_name(t)
                return t
            except ValueError:
                c._log.warning("unusable Response Information %r: using a topic of our own", info)
        ident = c.client_id or c.assigned_client_id or ""
        if not ident or "/" in ident or "+" in ident or "#" in ident:
            ident = _hex(_random_bytes(8))
        return "%s/%s/%s" % (_PREFIX, ident, _SUFFIX)

    async def request(
        self, topic: str, payload: "Any", timeout: "Optional[float]", qos: int, options: "Dict[str, Any]"
    ) -> "Message":
        if self.client.protocol != V50:
            raise MQTTError("request() needs MQTT 5.0 (Response Topic, Correlation Data); this connection is 3.1.1",
                            0x84)
        if "response_topic" in options or "correlation_data" in options:
            raise ValueError("request() sets response_topic and correlation_data itself")
        if timeout is None:
            return await self._request(topic, payload, qos, options)
        try:
            return await asyncio.wait_for(self._request(topic, payload, qos, options), timeout)
        except asyncio.TimeoutError:
            raise asyncio.TimeoutError("no response to the request on %s within %s s" % (topic, timeout)) from None

    async def _subscribed(self) -> str:
        # Concurrent first requests share one SUBSCRIBE; all wait for its SUBACK, so
        # that no response can come before the subscription is in place.
        tok = self._sub
        if tok is None:
            self.topic = self.response_topic()
            tok = self._sub = self.client.subscribe(self.topic, 1, self._on_response, persist=False)
        try:
            await tok
        except asyncio.CancelledError:
            raise
        except Exception:
            if self._sub is tok:
                self._sub = None  # refused or disconnected: the next request tries again
            raise
        assert self.topic is not None
        return self.topic

    async def _request(self, topic: str, payload: "Any", qos: int, options: "Dict[str, Any]") -> "Message":
        response_topic = await self._subscribed()
        self._n = (self._n + 1) & 0xFFFFFFFF
        cd = self._id + self._n.to_bytes(4, "big")
        p = _Pending()
        self.pending[cd] = p
        try:
            tok = self.client.publish(
                topic, payload, qos=qos, response_topic=response_topic, correlation_data=cd, **options
            )
            await tok
            if tok.dropped:
                raise MQTTError("request on %s dropped: not sent (QoS 0 while not connected)" % topic, 0x80)
            if p.message is None:
                await p.event.wait()
            assert p.message is not None
            return p.message
        finally:
            self.pending.pop(cd, None)

    def _on_response(self, client: "Client", message: "Message") -> None:
        props = message.properties
        cd = props.correlation_data if props is not None else None
        p = self.pending.pop(bytes(cd), None) if cd is not None else None
        if p is None:
            client._log.debug("response on %s matches no pending request", message.topic)
            return
        p.message = message
        p.event.set()


def respond(client: "Client", request: "Message", payload: "Any", options: "Dict[str, Any]") -> "Token":
    """Publish payload to the request's Response Topic with its Correlation Data."""
    props = request.properties
    topic = props.response_topic if props is not None else None
    if props is None or not topic:
        why = " (MQTT 3.1.1 messages have none)" if client.protocol != V50 else ""
        raise ValueError("the message on %s has no response topic to answer to%s" % (request.topic, why))
    if props.correlation_data is not None and "correlation_data" not in options:
        options["correlation_data"] = props.correlation_data
    if "qos" not in options:
        options["qos"] = request.qos
    return client.publish(topic, payload, **options)


def _answer(client: "Client", request: "Message", result: "Any") -> None:
    if result is None:
        return
    props = request.properties
    if props is None or not props.response_topic:
        client._log.debug("message on %s has no response topic: not answered", request.topic)
        return
    client.respond(request, result)


async def _answer_later(client: "Client", request: "Message", awaitable: "Any") -> None:
    _answer(client, request, await awaitable)


def serve(
    client: "Client", topic_filter: str, fn: "Callable[[Client, Message], Any]", qos: int, options: "Dict[str, Any]"
) -> "Token":
    """Subscribe to topic_filter and answer each request with fn(client, message)."""

    def handler(c: "Client", message: "Message") -> "Any":
        r = fn(c, message)
        if r is None or isinstance(r, (bytes, bytearray, memoryview, str)):
            _answer(c, message, r)
            return None
        return _answer_later(c, message, r)  # a coroutine: answered by the dispatcher

    return client.subscribe(topic_filter, qos, handler, **options)
