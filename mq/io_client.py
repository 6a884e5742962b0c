"""The asyncio client: the public ``Client`` and ``dial``.

It drives one Protocol (the sans-I/O core) over a stream: a reader task feeds it
bytes, a writer task flushes what it encodes, a keepalive task calls its timer, and
a supervisor task reconnects with exponential backoff and full jitter whenever a
connection ends. Every failure goes through ``_lost``.
"""

import asyncio
import random

# Builtins the publish path calls, as module names: MicroPython finds a builtin by a
# linear search of its builtins table, a module name by hash (0.3 against 0.1 µs-ish:
# about 1,050 against 390 instructions for an isinstance() call on the unix port).
from builtins import isinstance as _isinstance
from builtins import len as _len
from builtins import str as _str

from ._compat import (
    MICROPYTHON,
    close_stream,
    const,
    limit_backlog,
    park,
    park_read,
    readinto,
    send,
    sleep_ms,
    stream_backlog,
    stream_socket,
    ticks_ms,
)
from .codes import CLIENT_DISCONNECT_CODES, V311_CONNACK_RETURN_CODES, reason_name
from .errors import ClientDisconnected, ConnectionRefused, MQTTError
from .io_subs import Subscription, Subscriptions
from .io_token import DONE, DROPPED, Token, paused_readers
from .io_token import waiting as token_waiting
from .io_transport import ServerURL, open_transport
from .proto_conn import LIMIT_IGNORE, Protocol
from .proto_session import OutPublish, OutRequest
from .wire_buf import encode_str
from .wire_decode import MAX_PACKET_SIZE
from .wire_packets import Connect, Subscribe, Unsubscribe, Will
from .wire_props import EncodedProperties, Properties, user_props_list
from .wire_topic import check_topic_filter, check_topic_name

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Generator, List, Optional, Union

    from .auth import Authenticator
    from .io_subs import Handler
    from .store import PersistedSubscription, SessionStore
    from .wire_packets import Message, Packet

QOS0_DROP = 0
QOS0_BLOCK = 1

# Protocol versions, packet types and connection states (proto_conn's): constants
# folded into the code, where imported names would be looked up.
_V311 = const(4)
_V50 = const(5)
_PUBLISH = const(3)
_SUBACK = const(9)
_CONNECTING = const(1)
_CONNECTED = const(2)


class ServerCapabilities:
    """What the server announced in CONNACK (defaults for v3.1.1)."""

    def __init__(self, props: "Optional[Properties]" = None) -> None:
        p = props if props is not None else Properties()
        self.maximum_packet_size = p.maximum_packet_size or 0
        self.receive_maximum = p.receive_maximum or 65535
        self.topic_alias_maximum = p.topic_alias_maximum or 0
        self.maximum_qos = 2 if p.maximum_qos is None else p.maximum_qos
        self.retain_available = p.retain_available != 0
        self.wildcard_available = p.wildcard_subscription_available != 0
        self.subscription_id_available = p.subscription_identifier_available != 0
        self.shared_subscription_available = p.shared_subscription_available != 0

    def __repr__(self) -> str:
        return "ServerCapabilities(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items()))


class _Log:
    """Fallback logger: warnings and errors to the console, nothing else."""

    def debug(self, msg: str, *args: "Any") -> None:
        pass

    info = debug

    def warning(self, msg: str, *args: "Any") -> None:
        print("mq: " + (msg % args if args else msg))

    error = warning

    def exception(self, msg: str, *args: "Any") -> None:
        self.warning(msg, *args)


def _default_logger() -> "Any":
    try:
        import logging

        return logging.getLogger("mq")
    except ImportError:
        return _Log()


class _Link:
    """One network connection and the tasks that serve it."""

    def __init__(self, reader: "Any", writer: "Any") -> None:
        self.reader = reader
        self.writer = writer
        # MicroPython's stream: its socket, for the generator reader and writer.
        self.sock = stream_socket(writer)
        self.feed: "Any" = None  # io_feed.Feed: CPython's own asyncio stream
        self.tasks: "List[Any]" = []
        self.closed = False
        self.ready = False  # CONNACK accepted: a loss now means reconnecting
        self.paused = False  # not reading: the handlers' queue is full (incoming_queue)


class Client:
    """An MQTT client. Make one with ``await mq.dial(...)``."""

    def __init__(
        self,
        server: "Union[str, List[str]]",
        *,
        client_id: str = "",
        username: "Optional[str]" = None,
        password: "Optional[Union[str, bytes]]" = None,
        protocol: int = _V50,
        auto_protocol: bool = True,
        keepalive: int = 60,
        connect_timeout: float = 30.0,
        clean_start: bool = True,
        session_expiry: "Optional[int]" = None,
        user_properties: "Any" = None,
        will: "Optional[Will]" = None,
        auto_reconnect: bool = True,
        reconnect_delay: float = 0.1,
        reconnect_max_delay: float = 60.0,
        ssl: "Any" = None,
        subscriptions: "Optional[Dict[str, Any]]" = None,
        default_handler: "Optional[Handler]" = None,
        on_connect: "Optional[Callable[[Client], Any]]" = None,
        on_connection_lost: "Optional[Callable[[Client, BaseException], Any]]" = None,
        on_server_redirect: "Optional[Callable[[str], Any]]" = None,
        logger: "Any" = None,
        dialer: "Any" = None,
        outgoing_queue: int = 1000,
        incoming_queue: int = 100,
        qos0_policy: int = QOS0_DROP,
        max_inflight: int = 65535,
        receive_maximum: int = 65535,
        receive_maximum_policy: int = LIMIT_IGNORE,
        topic_alias_maximum: int = 0,
        max_incoming_packet: int = MAX_PACKET_SIZE,
        max_payload: int = 268435455,
        max_topic_length: int = 65535,
        request_problem_info: bool = True,
        request_response_info: bool = False,
        authenticator: "Optional[Authenticator]" = None,
        resend_on_session_loss: bool = True,
        buffer_size: int = 0,
        store: "Optional[SessionStore]" = None,
        fast_wake: bool = True,
        handler_interceptors: "Optional[List[Any]]" = None,
        publish_interceptors: "Optional[List[Any]]" = None,
    ) -> None:
        servers = [server] if isinstance(server, str) else list(server)
        if not servers:
            raise ValueError("no server given")
        self._servers = [ServerURL(s) for s in servers]
        self._server_index = 0
        if protocol not in (_V311, _V50):
            raise ValueError("protocol must be mq.V50 or mq.V311")
        if not 0 < max_inflight <= 65535:
            raise ValueError("max_inflight must be 1 to 65535")
        if clean_start is False and not client_id and protocol == _V311:
            raise ValueError("a persistent session (clean_start=False) needs a client_id")
        self.client_id = client_id
        self._username = username
        self._password = password.encode() if isinstance(password, str) else password
        self.protocol = protocol
        self._auto_protocol = auto_protocol
        self._keepalive = keepalive
        self._connect_timeout = connect_timeout
        self._clean_start = clean_start
        self._session_expiry = session_expiry
        self._user_properties = user_props_list(user_properties)
        if will is not None:
            check_topic_name(will.topic)
            if will.properties is not None and will.properties.response_topic is not None:
                check_topic_name(will.properties.response_topic)  # a topic name, no wildcards
        self._will = will
        self.auto_reconnect = auto_reconnect
        self._reconnect_delay = reconnect_delay
        self._reconnect_max_delay = reconnect_max_delay
        self._ssl = ssl
        # A list, as handlers_for answers: a message only it takes allocates nothing more.
        self._default_handlers = None if default_handler is None else [default_handler]
        self._on_connect = on_connect
        self._on_connection_lost = on_connection_lost
        self._on_server_redirect = on_server_redirect
        self._log = logger if logger is not None else _default_logger()
        self._dialer = dialer
        self._outgoing_queue = outgoing_queue
        self._incoming_queue = incoming_queue if incoming_queue > 0 else 1
        self._qos0_policy = qos0_policy
        self._receive_maximum = receive_maximum
        self._topic_alias_maximum = topic_alias_maximum
        self._max_incoming_packet = max_incoming_packet
        self._max_payload = max_payload
        self._max_topic_length = max_topic_length
        self._request_problem_info = request_problem_info
        self._request_response_info = request_response_info
        self._store = store
        if buffer_size <= 0:
            buffer_size = 1024 if MICROPYTHON else 65536
        # Most of a slow link's backlog may wait in the transport before QoS 0 is held back.
        self._high_water = buffer_size * (4 if MICROPYTHON else 16)
        self.proto = Protocol(
            self,
            rx_size=buffer_size,
            tx_size=buffer_size,
            # A larger packet grows the send buffer to 4 times its size (at most 16 KiB):
            # larger payloads go out from the caller's bytes.
            tx_max=max(buffer_size, min(buffer_size * 4, 16384)),
            max_incoming_packet=max_incoming_packet,
            receive_maximum=receive_maximum,
            receive_maximum_policy=receive_maximum_policy,
            topic_alias_maximum=topic_alias_maximum,
            resend_on_session_loss=resend_on_session_loss,
            fast_wake=fast_wake,
            max_inflight=max_inflight,
        )
        self._reauth: "Optional[Token]" = None  # the re-authentication in progress
        if authenticator is not None:
            from .proto_auth import AuthExchange

            self.proto.auth = AuthExchange(authenticator)
        if MICROPYTHON:
            self.proto.out_limit = self._high_water  # a small buffer: batch a few of them
        self._subs = Subscriptions()
        for flt, spec in (subscriptions or {}).items():
            handler, qos = (spec[0], spec[1]) if isinstance(spec, tuple) else (spec, 1)
            check_topic_filter(flt)
            self._subs.add(Subscription(flt, qos, handler))
        self._link: "Optional[_Link]" = None
        self._wake = asyncio.Event()  # the writer's: something to send
        self._woken = False  # _kick set _wake, and the writer has not cleared it yet
        self._connack: "Optional[Packet]" = None
        self._connack_event = asyncio.Event()
        self._handshake_error: "Optional[BaseException]" = None
        self._lost_error: "Optional[BaseException]" = None
        self._lost_again = False  # a loss the running supervisor has not handled yet
        self._closing = False
        # Tasks that exist only while they have work (each costs about 0.5 KB of heap
        # on MicroPython): the supervisor from a lost connection until it is back, the
        # dispatcher from the first coroutine handler on.
        self._supervisor: "Any" = None
        self._handler_queue: "List[Any]" = []
        self._handler_event: "Any" = None
        self._drained: "Any" = None  # the handlers' queue has room again
        self._dispatcher: "Any" = None
        self._blocked: "List[Any]" = []  # QoS 0 publishes held back (QOS0_BLOCK)
        self._topic_cache: "Dict[str, bytes]" = {}
        # Interceptors (io_intercept): without any, publish and handlers are called directly.
        self._handler_chain: "Any" = None
        if handler_interceptors:
            from .io_intercept import HandlerChain

            self._handler_chain = HandlerChain(handler_interceptors)
        if publish_interceptors:
            from .io_intercept import publish_chain

            self.publish = publish_chain(self.publish, publish_interceptors)  # type: ignore[method-assign]
        self._requester: "Any" = None  # io_request.Requester, made by the first request()
        # Accessors (DESIGN.md):
        self.assigned_client_id: "Optional[str]" = None
        self.server_capabilities = ServerCapabilities()
        self.server_keepalive: "Optional[int]" = None
        self.server_reference: "Optional[str]" = None
        self.response_information: "Optional[str]" = None
        self.session_expiry_interval = 0
        self.connection_user_properties: "List[Any]" = []
        self.session_present = False
        self._reconnects = 0
        self._bytes_sent = 0
        self._held = 0  # the stream's backlog as of the last write (see publish)
        self._max_qos = 2  # the server's capabilities, checked before sending
        self._retain_ok = True
        if store is not None:
            # Loaded once per process, before anything is published; reconnects keep
            # the state in memory.
            if clean_start:
                store.clear()
            else:
                from .io_session import restore  # a client without a store does not load it

                restore(store, self.proto.session, self._subs, self._stored_subscription)

    # -- public API ------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._link is not None and self.proto.state == _CONNECTED

    def stats(self) -> "Dict[str, Any]":
        p = self.proto
        return {
            "packets_sent": p.packets_sent,
            "packets_received": p.packets_received,
            "bytes_sent": self._bytes_sent,
            "bytes_received": p.bytes_received,
            "reconnect_count": self._reconnects,
            "connected": self.is_connected,
            "inflight": len(p.session.inflight),
            "queued": len(p.session.queue),
        }

    def publish(
        self,
        topic: str,
        payload: "Union[bytes, bytearray, str]" = b"",
        qos: int = 0,
        retain: bool = False,
        alias: bool = False,
        properties: "Optional[Properties]" = None,
        content_type: "Optional[str]" = None,
        user_properties: "Any" = None,
        message_expiry: "Optional[int]" = None,
        response_topic: "Optional[str]" = None,
        correlation_data: "Optional[bytes]" = None,
        payload_format: "Optional[int]" = None,
    ) -> Token:
        """Publish a message; the Token completes when QoS 0 is written, QoS 1 has
        its PUBACK and QoS 2 its PUBCOMP. Raises ValueError for invalid input."""
        if qos:
            if qos != 1 and qos != 2:
                raise ValueError("QoS must be 0, 1 or 2")
            if qos > self._max_qos:
                raise self._unsupported(qos)
        elif qos != 0:
            raise ValueError("QoS must be 0, 1 or 2")
        if retain and not self._retain_ok:
            raise self._unsupported(qos)
        t = self._topic_cache.get(topic)
        if t is None:
            t = self._topic_bytes(topic)
        if _isinstance(payload, _str):
            payload = payload.encode()
        m = _len(payload)
        if m > self._max_payload:
            raise ValueError("payload of %d bytes exceeds max_payload=%d" % (m, self._max_payload))
        props = None
        if self.protocol == _V50 and (
            properties is not None or content_type is not None or user_properties is not None
            or message_expiry is not None or response_topic is not None or correlation_data is not None
            or payload_format is not None
        ):
            properties = self._publish_properties(
                properties, content_type, user_properties, message_expiry, response_topic, correlation_data,
                payload_format, payload,
            )
            props = EncodedProperties(properties, _PUBLISH)
        else:
            properties = None
        proto = self.proto
        if qos == 0:
            link = self._link
            if link is not None and proto.state == _CONNECTED and not self._blocked:
                out = proto.out
                # The stream's backlog as of the last write bounds what it holds now:
                # asking the stream (slower) only when that bound is too high.
                hw = self._high_water
                if out.n + out.extra_bytes + self._held < hw or self._backlog() < hw:
                    # _send_qos0 and _kick inline: this is the hottest path of the library.
                    # What the buffer holds goes out first if this packet may not fit
                    # behind it: the buffer is written full, and a burst of mid-sized
                    # messages does not spill into chunks (allocated) of their own.
                    n = out.n
                    if n and n + _len(t) + m > out.fit:
                        self._write(link)
                    if not link.closed:  # (the write can find the connection lost)
                        size = 0
                        if props is None and not alias:
                            size = proto.publish_plain(t, payload, retain, ticks_ms())
                        if not size:
                            size = proto.publish_qos0(t, payload, retain, props, alias, ticks_ms())
                            if size < 0:
                                return self._too_large(size)
                        if out.extra:
                            self._kick()
                        elif not self._woken:
                            self._nudge()
                        return DONE
            if self._qos0_policy == QOS0_DROP or len(self._blocked) >= self._outgoing_queue:
                return DROPPED
            tok = Token()
            self._blocked.append((tok, t, payload, retain, props, alias))
            return tok
        tok = Token()
        if len(proto.session.queue) >= self._outgoing_queue and self._queue_full():
            tok._complete(MQTTError("outgoing queue full (%d messages)" % self._outgoing_queue, 0x97))
            return tok
        e = OutPublish(t, bytes(payload), qos, retain, props, alias, properties, tok)
        proto.session.assign(e)
        if self._store is not None:
            self._save_publish(e)
        proto.publish(e, ticks_ms())
        self._kick()
        return tok

    def subscribe(
        self,
        topic_filter: str,
        qos: int = 0,
        handler: "Optional[Handler]" = None,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
        subscription_id: "Optional[int]" = None,
        user_properties: "Any" = None,
        persist: bool = True,
    ) -> Token:
        """Subscribe; the Token completes with SUBACK (SubscriptionFailed if refused)."""
        check_topic_filter(topic_filter)
        if qos not in (0, 1, 2):
            raise ValueError("QoS must be 0, 1 or 2")
        self._check_subscribe(topic_filter, subscription_id, no_local)
        if retain_handling not in (0, 1, 2):
            raise ValueError("retain_handling must be 0, 1 or 2")
        if subscription_id is not None and not 0 < subscription_id <= 268435455:
            raise ValueError("subscription_id must be 1..268435455")
        sub = Subscription(
            topic_filter, qos, handler, no_local, retain_as_published, retain_handling, subscription_id,
            user_props_list(user_properties), persist,
        )
        old = self._subs.get(topic_filter)
        if handler is None and old is not None:
            sub.handler = old.handler
        # The handler is in place before SUBSCRIBE leaves: retained messages follow SUBACK at once.
        self._subs.add(sub)
        return self._request(Subscribe(0, [(topic_filter, sub.options)], self._sub_props(sub)), sub)

    def unsubscribe(self, topic_filter: str, user_properties: "Any" = None) -> Token:
        """Unsubscribe; the Token completes with UNSUBACK."""
        check_topic_filter(topic_filter)
        props = Properties(user_properties=user_properties) if user_properties is not None else None
        return self._request(Unsubscribe(0, [topic_filter], props), topic_filter)

    async def request(
        self, topic: str, payload: "Any" = b"", timeout: "Optional[float]" = 10.0, qos: int = 1, **options: "Any"
    ) -> "Message":
        """Publish a request (MQTT 5.0) and return the response message: see io_request.
        Raises asyncio.TimeoutError without a response in time, MQTTError on 3.1.1."""
        if self._requester is None:
            from .io_request import Requester

            self._requester = Requester(self)
        r: "Message" = await self._requester.request(topic, payload, timeout, qos, options)
        return r

    def respond(self, request: "Message", payload: "Any" = b"", **options: "Any") -> Token:
        """Publish payload to request's Response Topic with its Correlation Data (and, by
        default, its QoS). Raises ValueError if the request has no Response Topic."""
        from .io_request import respond

        return respond(self, request, payload, options)

    def serve(self, topic_filter: str, fn: "Callable[[Client, Message], Any]", qos: int = 1, **options: "Any") -> Token:
        """Subscribe to topic_filter and answer each request with what fn(client, message)
        returns (a payload, None for no answer; fn may be a coroutine function)."""
        from .io_request import serve

        return serve(self, topic_filter, fn, qos, options)

    async def disconnect(
        self, reason: int = 0, properties: "Optional[Properties]" = None, timeout: float = 5.0
    ) -> None:
        """Send DISCONNECT, close, stop reconnecting, and fail every pending token
        with ClientDisconnected. Raises ValueError for a reason code a client may not
        send, or a Session Expiry Interval set when CONNECT had none (MQTT 5.0 3.14.2.2.2)."""
        if not 0 <= reason <= 0xFF or reason not in CLIENT_DISCONNECT_CODES:
            raise ValueError("0x%02X is not a reason code a client sends in DISCONNECT" % reason)
        if properties is not None and properties.session_expiry_interval and not self._session_expiry:
            raise ValueError("a session expiry interval on DISCONNECT needs one in CONNECT (session_expiry=)")
        self._closing = True
        link = self._link
        if link is not None and not link.closed:
            self.proto.disconnect(reason, properties if self.protocol == _V50 else None, ticks_ms())
            try:
                self._write(link)
                await asyncio.wait_for(link.writer.drain(), timeout)
            except Exception as e:
                self._log.debug("flushing DISCONNECT failed: %r", e)
            self._close_link(link)
            if not MICROPYTHON:
                # drain() leaves up to the transport's low-water mark unsent; closing sends
                # it: wait for that, so that nothing published before is lost on exit.
                try:
                    await asyncio.wait_for(link.writer.wait_closed(), timeout)
                except Exception as e:
                    self._log.debug("closing the connection failed: %r", e)
        self._stop_tasks()
        self._fail_all(ClientDisconnected())

    async def reauthenticate(self, timeout: "Optional[float]" = None) -> None:
        """Authenticate again on the open connection (MQTT 5.0 with ``authenticator=``):
        AUTH 0x19, the authenticator's exchange, the server's AUTH 0x00; messages keep
        flowing meanwhile. Returns once the server has accepted and the authenticator
        has checked it. Raises NotAuthorized if the authenticator refused (the client
        then disconnects), DisconnectError if the server did, ClientDisconnected if the
        connection was lost, asyncio.TimeoutError after ``timeout`` (default
        connect_timeout; the exchange goes on). A call while one runs waits for it.
        ValueError without an authenticator or on MQTT 3.1.1."""
        tok = self._reauth
        if tok is None:
            if self.proto.auth is None or self.protocol != _V50:
                raise ValueError("reauthenticate() needs MQTT 5.0 and an authenticator")
            if not self.is_connected:
                raise ClientDisconnected("not connected")
            self.proto.reauthenticate(ticks_ms())
            tok = self._reauth = Token()
            self._kick()
        await tok.wait(self._connect_timeout if timeout is None else timeout)

    def _end_reauth(self, err: "Optional[BaseException]") -> None:
        tok = self._reauth
        if tok is not None:
            self._reauth = None
            tok._complete(err, getattr(err, "reason_code", 0x80) if err is not None else 0)

    # -- connecting ---------------------------------------------------------------

    async def connect(self) -> None:
        """The first connection (``dial`` calls it): errors are raised here. Messages
        published before it are sent as soon as the connection allows: with
        ``clean_start=False`` and ``fast_wake``, right behind CONNECT."""
        await self._start()

    async def _start(self) -> None:
        last: "Optional[BaseException]" = None
        for _ in range(len(self._servers)):
            server = self._servers[self._server_index]
            try:
                await self._connect_with_fallback(server)
                break
            except ConnectionRefused:
                raise
            except Exception as e:
                last = e
                self._server_index = (self._server_index + 1) % len(self._servers)
        else:
            assert last is not None
            raise last

    async def _connect_with_fallback(self, server: ServerURL) -> None:
        try:
            await self._connect_timed(server)
        except ConnectionRefused as e:
            # v5 first; a server that does not speak it gets 3.1.1 (and we keep that).
            if e.reason_code == 0x84 and self.protocol == _V50 and self._auto_protocol:
                if not self.client_id and not self._clean_start:
                    # MQTT-3.1.3-7: 3.1.1 assigns no identifier to a persistent session.
                    raise ConnectionRefused(
                        "%s speaks only MQTT 3.1.1, which needs a client_id for clean_start=False" % server, 0x84
                    ) from None
                self._log.info("%s refused MQTT 5.0, trying 3.1.1", server)
                self.protocol = _V311
                await self._connect_timed(server)
            else:
                raise

    async def _connect_timed(self, server: ServerURL) -> None:
        try:
            await asyncio.wait_for(self._connect(server), self._connect_timeout)
        except asyncio.TimeoutError:
            if self._link is not None:
                self._close_link(self._link)
            raise OSError("connecting to %s timed out after %s s" % (server, self._connect_timeout)) from None
        except BaseException:
            if self._link is not None:
                self._close_link(self._link)
            raise

    def _connect_packet(self) -> Connect:
        v5 = self.protocol == _V50
        props = None
        will = self._will
        if v5:
            props = Properties()
            if self._session_expiry:
                props.session_expiry_interval = self._session_expiry
            if self._receive_maximum != 65535:
                props.receive_maximum = self._receive_maximum
            if self._max_incoming_packet < MAX_PACKET_SIZE:
                props.maximum_packet_size = self._max_incoming_packet
            if self._topic_alias_maximum:
                props.topic_alias_maximum = self._topic_alias_maximum
            if not self._request_problem_info:
                props.request_problem_information = 0
            if self._request_response_info:
                props.request_response_information = 1
            if self._user_properties:
                props.user_properties = self._user_properties
        elif will is not None and will.properties is not None:
            will = Will(will.topic, will.payload, will.qos, will.retain)
        return Connect(
            self.client_id, self.protocol, self._clean_start, self._keepalive, self._username, self._password,
            will, props,
        )

    async def _connect(self, server: ServerURL) -> None:
        reader, writer = await open_transport(server, self._ssl, self._dialer)
        link = _Link(reader, writer)
        limit_backlog(writer, self._high_water)
        self._link = link
        self._connack = None
        self._handshake_error = None
        self._connack_event = asyncio.Event()
        self.proto.start(self._connect_packet(), ticks_ms())
        # The writer task sends CONNECT: on MicroPython the TLS handshake runs inside that
        # first write, and a failure there must end the handshake through _lost.
        self._wake.set()
        if link.sock is not None:
            link.tasks.append(asyncio.create_task(self._reader_mp(link)))
            link.tasks.append(asyncio.create_task(self._writer_mp(link)))
        else:
            if not MICROPYTHON and getattr(writer, "transport", None) is not None:
                from .io_feed import feed

                feed(self, link)  # the transport reads, and a loop callback writes
            else:
                link.tasks.append(asyncio.create_task(self._reader(link)))
            link.tasks.append(asyncio.create_task(self._writer(link)))
        await self._connack_event.wait()
        c = self._connack
        if c is None:
            from .io_tls import handshake_error

            raise handshake_error(server, self._ssl, self._dialer, self._handshake_error)
        if c.reason_code:
            code = c.reason_code
            if self.protocol == _V311:
                code = V311_CONNACK_RETURN_CODES[code] if code < 6 else 0x80
            props = c.properties
            self._close_link(link)
            if props is not None and props.server_reference and (code == 0x9C or code == 0x9D):
                self._redirect(props.server_reference)
            from .errors_refused import connection_refused  # loaded with the first refusal

            raise connection_refused(code, props.reason_string if props is not None else None)
        if link.closed:
            raise self._handshake_error or OSError("connection closed during the handshake")
        link.ready = True
        link.tasks.append(asyncio.create_task(self._keepalive_task(link)))
        self._after_connect(c)

    def _after_connect(self, c: "Packet") -> None:
        props = c.properties
        self.session_present = c.session_present
        caps = self.server_capabilities = ServerCapabilities(props)
        self._max_qos = caps.maximum_qos
        self._retain_ok = caps.retain_available
        if props is not None:
            if props.assigned_client_identifier:
                self.assigned_client_id = props.assigned_client_identifier
                if not self.client_id:
                    # Reconnects resume the session under the identifier the server gave.
                    self.client_id = props.assigned_client_identifier
            self.server_keepalive = props.server_keep_alive
            self.response_information = props.response_information
            self.connection_user_properties = props.user_properties or []
            if props.session_expiry_interval is not None:
                self.session_expiry_interval = props.session_expiry_interval
            else:
                self.session_expiry_interval = self._session_expiry or 0
            if props.server_reference:
                self._redirect(props.server_reference)
        elif self.protocol == _V311:
            self.session_expiry_interval = 0 if self._clean_start else 0xFFFFFFFF
        # Subscriptions the server does not hold (no session) are made again.
        if not c.session_present:
            self._persist("clear_received_qos2")
            for sub in self._subs:
                if not sub.pending:
                    self._request(Subscribe(0, [(sub.topic_filter, sub.options)], self._sub_props(sub)), sub)
        blocked = self._blocked
        self._blocked = []
        for item in blocked:
            tok, t, payload, retain, props2, alias = item
            if retain and not self._retain_ok:
                tok._complete(self._unsupported(0), 0x9A)
                continue
            self._send_qos0(t, payload, retain, props2, alias, tok)
        self._kick()
        if self._on_connect is not None:
            self._call_user(self._on_connect, self)

    def _queue_full(self) -> bool:
        # Full of messages the server's window or a lost connection holds back (those
        # only waiting for the send buffer to drain do not count).
        proto = self.proto
        held = len(proto.session.queue) - (proto.quota if proto.state == _CONNECTED else 0)
        return held >= self._outgoing_queue

    def _unsupported(self, qos: int) -> MQTTError:
        # What the server announced it does not support fails here, not in a DISCONNECT:
        # a QoS above its maximum, else a retained message.
        if qos > self._max_qos:
            return MQTTError("the server supports QoS up to %d, not %d" % (self._max_qos, qos), 0x9B)
        return MQTTError("the server does not support retained messages", 0x9A)

    def _check_subscribe(self, topic_filter: str, subscription_id: "Optional[int]", no_local: bool) -> None:
        caps = self.server_capabilities
        if topic_filter.startswith("$share/"):
            if no_local:
                raise ValueError("no_local is not allowed on a shared subscription (MQTT-3.8.3-4)")
            if not caps.shared_subscription_available:
                raise MQTTError("the server does not support shared subscriptions", 0x9E)
        if not caps.wildcard_available and ("+" in topic_filter or "#" in topic_filter):
            raise MQTTError("the server does not support wildcard subscriptions", 0xA2)
        if subscription_id is not None and not caps.subscription_id_available:
            raise MQTTError("the server does not support subscription identifiers", 0xA1)

    def _stored_subscription(self, topic_filter: str, s: "PersistedSubscription") -> Subscription:
        return Subscription(
            topic_filter, s.qos, None, s.no_local, s.retain_as_published, s.retain_handling, s.subscription_id,
            s.user_properties,
        )

    def _persist(self, method: str, *args: "Any") -> None:
        store = self._store
        if store is None:
            return
        # A store that fails leaves the state in memory; the session goes on.
        try:
            getattr(store, method)(*args)
        except Exception as e:
            self._log_exception("session store %s failed" % method, e)

    def _redirect(self, reference: str) -> None:
        self.server_reference = reference
        if self._on_server_redirect is not None:
            self._call_user(self._on_server_redirect, reference)

    # -- tasks ----------------------------------------------------------------------

    async def _reader(self, link: _Link) -> None:
        proto = self.proto
        try:
            while not link.closed:
                n = await readinto(link.reader, proto.rx_space())
                more = self._after_read(link, n)
                if more < 0:
                    return
                if more:
                    await self._pause_reading(link, self._pause(link))
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._read_failed(link, e)

    def _reader_mp(self, link: _Link) -> "Generator[None, None, None]":
        # MicroPython: a generator, like _writer_mp. It waits for the socket the way
        # the stream's readinto() does and reads straight into the receive buffer: no
        # read coroutine per read. None from a TLS socket: a record not complete yet.
        proto = self.proto
        sock: "Any" = link.sock
        try:
            while not link.closed:
                park_read(sock)
                yield
                n = sock.readinto(proto.rx_space())
                if n is None:
                    continue
                more = self._after_read(link, n)
                if more < 0:
                    return
                if more:
                    yield from self._pause_reading(link, self._pause(link))  # type: ignore[misc]
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._read_failed(link, e)

    def _after_read(self, link: _Link, n: int) -> int:
        """Take n bytes read: 0 to read on, 1 to pause reading first, -1 to stop."""
        if not n:
            raise OSError("connection closed by the server")
        proto = self.proto
        proto.received(n, ticks_ms())
        if proto.out.n or proto.out.extra:
            self._kick()
        if proto.state != _CONNECTED and proto.state != _CONNECTING and not link.closed:
            # (CONNECTING: an AUTH exchange, or CONNACK not complete yet)
            if not link.ready:
                return -1  # a refused CONNACK: _connect closes the link
            raise OSError("connection closed")
        # Back-pressure: coroutine handlers lag by incoming_queue messages; stop reading
        # (the server holds the rest) rather than drop any. Not while a token is
        # awaited: its acknowledgement must be read.
        return 1 if len(self._handler_queue) >= self._incoming_queue and not token_waiting[0] else 0

    def _pause(self, link: _Link) -> "Any":
        link.paused = True
        drained = self._drained
        drained.clear()
        paused_readers.append(drained)  # set by a token awaited: its ack must be read
        return drained

    async def _pause_reading(self, link: _Link, drained: "Any") -> None:
        # drained: what _pause returned, before any other task ran
        try:
            await drained.wait()
        finally:
            paused_readers.remove(drained)
            link.paused = False

    def _read_failed(self, link: _Link, e: BaseException) -> None:
        if isinstance(e, MQTTError) and not link.closed:
            # The protocol queued a DISCONNECT saying why: send it before closing.
            try:
                self._write(link)
            except Exception:
                pass
        self._lost(link, e)

    async def _writer(self, link: _Link) -> None:
        try:
            while not link.closed:
                await self._wake.wait()
                self._wake.clear()
                self._woken = False
                if link.closed:
                    return
                self._write(link)
                await link.writer.drain()
                self._flushed()
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._lost(link, e)

    def _writer_mp(self, link: _Link) -> "Generator[None, None, None]":
        # MicroPython: a generator, which its scheduler runs as a coroutine. It waits
        # on _wake the way Event.wait() does, and awaits drain() only when the socket
        # did not take everything: Event.wait() and drain() allocate a generator each,
        # this allocates nothing per flush.
        wake: "Any" = self._wake
        try:
            while not link.closed:
                if park(wake):
                    yield
                wake.clear()
                self._woken = False
                if link.closed:
                    return
                self._write(link)
                if link.writer.out_buf:
                    yield from link.writer.drain()
                self._flushed()
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._lost(link, e)

    def _flushed(self) -> None:
        proto = self.proto
        if proto.session.queue:
            proto.pump(ticks_ms())  # the next part of a burst held back by out_limit
            if (proto.out.n or proto.out.extra) and not self._woken:
                self._nudge()
        if self._blocked and self._backlog() < self._high_water:
            self._release_blocked()

    async def _keepalive_task(self, link: _Link) -> None:
        proto = self.proto
        try:
            while not link.closed:
                d = proto.deadline(ticks_ms())
                await sleep_ms(d if d >= 0 else 60000)
                if link.closed:
                    return
                now = ticks_ms()
                if link.paused:
                    # Not reading, we cannot see PINGRESP: keep the link alive, do not judge it.
                    proto.ping_sent = -1
                    proto.last_recv = now
                proto.tick(now)
                if proto.out.n:
                    self._kick()
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._lost(link, e)

    async def _supervise(self) -> None:
        # Started by _lost; ends when the connection is back (or given up), unless it
        # was lost again meanwhile.
        try:
            while self._lost_again and not self._closing:
                self._lost_again = False
                err = self._lost_error
                if err is None:
                    err = ClientDisconnected("connection lost")
                self._log.warning("connection lost: %r", err)
                if self._on_connection_lost is not None:
                    self._call_user(self._on_connection_lost, self, err)
                if not self.auto_reconnect:
                    self._fail_all(err if isinstance(err, MQTTError) else ClientDisconnected(str(err)))
                    return
                await self._reconnect()
        finally:
            if self._supervisor is asyncio.current_task():
                self._supervisor = None

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._closing:
            # Full jitter: a random delay up to an exponentially growing bound.
            bound = min(self._reconnect_max_delay, self._reconnect_delay * (1 << min(attempt, 20)))
            await sleep_ms(int(bound * 1000 * random.getrandbits(16) / 65536))
            if self._closing:
                return
            server = self._servers[self._server_index]
            try:
                await self._connect_timed(server)
                self._reconnects += 1
                self._log.info("reconnected to %s", server)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._log.info("reconnecting to %s failed: %r", server, e)
                attempt += 1
                self._server_index = (self._server_index + 1) % len(self._servers)

    async def _dispatch_task(self) -> None:
        # Coroutine handlers run here, one at a time and in order, so that a slow one
        # holds back later messages but never the reader (acks, keepalive).
        q = self._handler_queue
        while not self._closing:
            if not q:
                self._handler_event.clear()
                await self._handler_event.wait()
                continue
            coro = q.pop(0)
            if len(q) <= self._incoming_queue // 2:
                self._drained.set()
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._log_exception("message handler failed", e)

    # -- the central failure path ------------------------------------------------

    def _lost(self, link: _Link, err: BaseException) -> None:
        if link.closed:
            return
        self._end_reauth(err)
        self._close_link(link)
        if not link.ready:
            # Still in the handshake: _connect raises it.
            self._handshake_error = err
            self._connack_event.set()
            return
        self._lost_error = err
        self._lost_again = True
        if self._supervisor is None and not self._closing:
            self._supervisor = asyncio.create_task(self._supervise())

    def _close_link(self, link: _Link) -> None:
        if link.closed:
            return
        link.closed = True
        if self._link is link:
            self._link = None
        self.proto.connection_lost()
        if self._reauth is not None:
            self._end_reauth(ClientDisconnected("connection closed during re-authentication"))
        current = asyncio.current_task()
        for t in link.tasks:
            if t is not current:
                try:
                    t.cancel()
                except Exception:
                    pass
        try:
            close_stream(link.writer)  # after the cancels: no task waits on the socket
        except Exception:
            pass
        self._wake.set()

    def _stop_tasks(self) -> None:
        for t in (self._supervisor, self._dispatcher):
            if t is not None:
                try:
                    t.cancel()
                except Exception:
                    pass
        self._supervisor = None
        self._dispatcher = None

    def _fail_all(self, err: BaseException) -> None:
        s = self.proto.session
        for e in list(s.inflight.values()):
            if e.ref is not None:
                e.ref._complete(err, getattr(err, "reason_code", 0x80))
        s.clear()
        self.proto.requests = []
        for item in self._blocked:
            item[0]._complete(err)
        self._blocked = []

    # -- Listener: events from the protocol ------------------------------------------

    def on_connack(self, connack: "Packet") -> None:
        self._connack = connack
        self._connack_event.set()

    def on_message(self, message: "Message") -> None:
        props = message.properties
        handlers: "Optional[List[Handler]]" = self._subs.handlers_for(
            message.topic, props.subscription_identifier if props else None
        )
        if not handlers:
            handlers = self._default_handlers
            if handlers is None:
                self._log.debug("no handler for %s", message.topic)
                return
        chain = self._handler_chain
        if chain is not None:
            handlers = [chain.wrap(h) for h in handlers]
        for h in handlers:
            try:
                r = h(self, message)
            except Exception as e:
                self._log_exception("message handler failed", e)
                continue
            if r is not None:
                self._queue_handler(r)

    def _save_publish(self, e: OutPublish) -> None:
        # Durable before it can leave: a power cut from here on loses nothing.
        from .io_session import persisted_publish

        assert self._store is not None
        try:
            self._store.save_pending_publish(e.packet_id, persisted_publish(e))
        except BaseException:
            del self.proto.session.inflight[e.packet_id]
            raise

    def on_publish_done(self, entry: OutPublish, reason_code: int, properties: "Optional[Properties]") -> None:
        if self._store is not None:
            self._persist("delete_pending_publish", entry.packet_id)
        tok = entry.ref
        if tok is None:
            return
        if properties is not None:
            tok.properties = properties
        # (the error made elsewhere: here it would take MicroPython's frame past 11 words,
        # onto the heap, for every acknowledgement)
        tok._complete(None if reason_code < 0x80 else _publish_failed(entry, reason_code, properties), reason_code)

    def on_pubrec(self, entry: OutPublish) -> None:
        if self._store is not None:
            from .io_session import persisted_publish

            self._persist("save_pending_publish", entry.packet_id, persisted_publish(entry))

    def on_qos2_received(self, packet_id: int) -> None:
        if self._store is not None:
            self._persist("save_received_qos2", packet_id)

    def on_qos2_released(self, packet_id: int) -> None:
        if self._store is not None:
            self._persist("delete_received_qos2", packet_id)

    def on_request_done(self, entry: OutRequest, ack: "Packet") -> None:
        tok = entry.ref
        codes = ack.reason_codes
        props = ack.properties
        code = codes[0] if codes else 0
        err: "Optional[MQTTError]" = None
        if ack.type == _SUBACK:
            sub: Subscription = entry.extra
            sub.pending = False
            if code >= 0x80:
                if self._subs.get(sub.topic_filter) is sub:
                    self._subs.remove(sub.topic_filter)
                what = "subscription to %s refused: %s" % (sub.topic_filter, reason_name(code))
                from .errors_rare import SubscriptionFailed

                err = SubscriptionFailed(what, code, props.reason_string if props is not None else None)
                if tok is None:
                    self._log.warning("%s", err)
            elif sub.persist and self._store is not None:
                from .io_session import persisted_subscription

                self._persist("save_subscription", sub.topic_filter, persisted_subscription(sub))
        else:
            flt = entry.packet.topics[0]
            if code >= 0x80:
                # Refused: the subscription stays, on the server and here.
                rs = props.reason_string if props is not None else None
                err = MQTTError("unsubscribe from %s refused" % (flt,), code, rs)
            else:
                self._subs.remove(flt)
                self._persist("delete_subscription", flt)
        if tok is not None:
            tok.reason_codes = codes
            tok.properties = props
            tok._complete(err, code)

    def on_disconnect(self, packet: "Packet") -> None:
        props = packet.properties
        if props is not None and props.server_reference:
            self._redirect(props.server_reference)
        from .errors_rare import DisconnectError

        self._lost_error = DisconnectError(packet.reason_code, props)
        link = self._link
        if link is not None:
            self._lost(link, self._lost_error)

    def on_auth(self, packet: "Packet") -> None:
        self._end_reauth(None)  # the server accepted the re-authentication

    def on_warning(self, text: str) -> None:
        self._log.warning("%s", text)

    # -- helpers ------------------------------------------------------------------------

    def _topic_bytes(self, topic: str) -> bytes:
        check_topic_name(topic)
        t = encode_str(topic, "topic")
        if len(t) > self._max_topic_length:
            raise ValueError("topic of %d bytes exceeds max_topic_length=%d" % (len(t), self._max_topic_length))
        cache = self._topic_cache
        if len(cache) >= 32:
            cache.clear()
        cache[topic] = t
        return t

    def _publish_properties(
        self,
        properties: "Optional[Properties]",
        content_type: "Optional[str]",
        user_properties: "Any",
        message_expiry: "Optional[int]",
        response_topic: "Optional[str]",
        correlation_data: "Optional[bytes]",
        payload_format: "Optional[int]",
        payload: "Any",
    ) -> Properties:
        p = Properties()
        if properties is not None:
            for name, value in properties.items():
                setattr(p, name, value)
        # Only the server sets these on a PUBLISH (MQTT-3.3.4-6); aliases are ours to manage.
        p.subscription_identifier = None
        p.topic_alias = None
        if content_type is not None:
            p.content_type = content_type
        if user_properties is not None:
            p.user_properties = (p.user_properties or []) + (user_props_list(user_properties) or [])
        if message_expiry is not None:
            p.message_expiry = message_expiry
        if response_topic is not None:
            p.response_topic = response_topic
        if p.response_topic is not None:
            check_topic_name(p.response_topic)  # a topic name: no wildcards (MQTT-3.3.2-14)
        if correlation_data is not None:
            p.correlation_data = correlation_data
        if payload_format is not None:
            p.payload_format = payload_format
        if p.payload_format == 1:
            try:
                encode_str(bytes(payload), "payload")
            except ValueError:
                raise ValueError("payload_format=1 but the payload is not valid UTF-8") from None
        return p

    def _sub_props(self, sub: Subscription) -> "Optional[Properties]":
        if self.protocol != _V50:
            return None
        # A v5 server sends overlapping subscriptions one copy each, tagged with the
        # identifier: with one of our own on every subscription, each copy reaches
        # only its own handler.
        self._subs.number(sub, self.server_capabilities.subscription_id_available)
        p = Properties()
        sid = sub.sid
        if sid is not None:
            p.subscription_identifier = [sid]
        p.user_properties = sub.user_properties
        return p

    def _request(self, packet: "Packet", extra: "Any") -> Token:
        tok = Token()
        e = OutRequest(packet, tok)
        e.extra = extra
        if isinstance(extra, Subscription):
            extra.pending = True
        packet.packet_id = self.proto.session.assign(e)
        self.proto.request(e, ticks_ms())
        self._kick()
        return tok

    def _send_qos0(
        self, t: bytes, payload: "Any", retain: bool, props: "Optional[EncodedProperties]", alias: bool,
        tok: "Optional[Token]" = None,
    ) -> Token:
        size = self.proto.publish_qos0(t, payload, retain, props, alias, ticks_ms())
        if size < 0:
            return self._too_large(size, tok)
        self._kick()
        if tok is not None:
            tok._complete()
            return tok
        return DONE

    def _too_large(self, size: int, tok: "Optional[Token]" = None) -> Token:
        # A QoS 0 publish larger than the server's Maximum Packet Size: nothing was sent.
        tok = tok if tok is not None else Token()
        tok._complete(MQTTError("packet of %d bytes exceeds the server's maximum" % -size, 0x95), 0x95)
        return tok

    def _release_blocked(self) -> None:
        while self._blocked and self._backlog() < self._high_water and self.is_connected:
            tok, t, payload, retain, props, alias = self._blocked.pop(0)
            self._send_qos0(t, payload, retain, props, alias, tok)

    def _backlog(self) -> int:
        link = self._link
        self._held = 0 if link is None else stream_backlog(link.writer)
        return self.proto.out.pending() + self._held

    def _kick(self) -> None:
        # Flush now when the send buffer is (nearly) full, so that the next packets
        # find room in it rather than in chunks of their own; otherwise let the writer
        # batch them.
        out = self.proto.out
        if out.extra or out.n > out.flush_at:
            link = self._link
            if link is not None and self._backlog() < self._high_water:
                self._write(link)
        if not self._woken:  # a flag is cheaper than a call on every publish
            self._nudge()

    def _nudge(self) -> None:
        # Something to send: the writer task sends it, or on CPython's own stream a
        # plain loop callback (io_feed), which leaves the task to drain a full socket.
        self._woken = True
        link = self._link
        if link is not None and link.feed is not None:
            link.feed.nudge()
        else:
            self._wake.set()

    def _write(self, link: _Link) -> None:
        out = self.proto.out
        try:
            n = out.n
            if n:
                self._bytes_sent += n
                if send(link.writer, link.sock, out.buf, out.mv, n):
                    out.renew()  # the stream keeps a view of the old buffer
            for chunk in out.extra:
                self._bytes_sent += len(chunk)
                send(link.writer, link.sock, chunk, chunk, len(chunk))
        except Exception as e:
            # The stream is broken (MicroPython's socket raises here, also when called
            # from publish()) or in an unknown state: the connection is lost. QoS 1/2
            # messages go out again on the next one.
            self._lost(link, e)
            return
        out.clear()
        self._held = stream_backlog(link.writer)

    def _queue_handler(self, coro: "Any") -> None:
        self._handler_queue.append(coro)
        if self._dispatcher is None:
            self._handler_event = asyncio.Event()
            self._drained = asyncio.Event()
            self._dispatcher = asyncio.create_task(self._dispatch_task())
        self._handler_event.set()

    def _call_user(self, fn: "Callable[..., Any]", *args: "Any") -> None:
        try:
            r = fn(*args)
        except Exception as e:
            self._log_exception("callback failed", e)
            return
        if r is not None:
            self._queue_handler(r)

    def _log_exception(self, what: str, e: BaseException) -> None:
        if MICROPYTHON:
            self._log.error("%s: %r", what, e)
        else:
            self._log.error("%s", what, exc_info=e)


def _publish_failed(entry: OutPublish, code: int, properties: "Optional[Properties]") -> MQTTError:
    rs = properties.reason_string if properties is not None else None
    return MQTTError("publish to %s failed" % entry.topic.decode(), code, rs)


async def dial(server: "Union[str, List[str]]", **options: "Any") -> Client:
    """Connect to an MQTT server (or the first of a list that answers) and return
    the Client. Raises ConnectionRefused, OSError or asyncio.TimeoutError."""
    client = Client(server, **options)
    await client._start()
    return client
