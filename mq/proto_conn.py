"""The MQTT client protocol, sans I/O: bytes and the time in, events and bytes out.

One Protocol object serves a client for its whole life; ``start`` begins each
network connection. It owns the QoS 1/2 flows both ways, packet identifiers,
receive-maximum windows, topic aliases, keepalive deadlines and session-present
handling. Events go to a Listener; the bytes to send wait in ``out`` for the
driver. It never blocks, never reads a clock and never touches a socket.
"""

from ._compat import const, ticks_diff
from .codes import V50
from .errors import MQTTError, ProtocolError
from .proto_output import Output
from .proto_session import QUEUED, RELEASED, SENT, OutPublish, OutRequest, Session
from .wire_decode import MAX_PACKET_SIZE, Decoder
from .wire_encode import encode_bytes
from .wire_packets import PINGREQ_PACKET, Connect, Disconnect, SubAck, packet_name
from .wire_props import Properties

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Optional, Union

    from .proto_alias import InboundAliases, OutboundAliases
    from .proto_auth import AuthExchange
    from .proto_listener import Listener
    from .wire_buf import ReadBuffer
    from .wire_packets import Message, Packet
    from .wire_props import EncodedProperties

IDLE = const(0)  # no network connection
CONNECTING = const(1)  # CONNECT sent, waiting for CONNACK
CONNECTED = const(2)
CLOSED = const(3)  # DISCONNECT sent or received, or a protocol error: nothing more is read

_V50 = const(5)
_PUBLISH = const(3)
_PUBACK = const(4)
_PUBREC = const(5)
_PUBREL = const(6)
_PUBCOMP = const(7)
_SUBACK = const(9)
_UNSUBACK = const(11)
_PINGRESP = const(13)
_DISCONNECT = const(14)
_AUTH = const(15)

LIMIT_IGNORE = const(0)
LIMIT_STRICT = const(1)

# Fast wake: how many QoS 1/2 publishes may follow CONNECT before CONNACK tells the
# server's Receive Maximum (never more than the last one it told us).
EARLY_MAX = const(10)


class Protocol:
    def __init__(
        self,
        listener: "Listener",
        rx_size: int = 1024,
        tx_size: int = 1024,
        tx_max: int = 0,
        max_incoming_packet: int = MAX_PACKET_SIZE,
        receive_maximum: int = 65535,
        receive_maximum_policy: int = LIMIT_IGNORE,
        topic_alias_maximum: int = 0,
        resend_on_session_loss: bool = True,
        fast_wake: bool = True,
        max_inflight: int = 65535,
    ) -> None:
        self.listener = listener
        self.session = Session()
        self.out = Output(tx_size, tx_max)
        # Queued publishes are encoded only while less than this waits to be sent: the rest
        # stay in the queue as they were given, so a burst costs no encoded copies.
        self.out_limit = tx_size
        self.decoder = Decoder(V50, max_incoming_packet)
        self._rx_size = rx_size
        self.rx = bytearray(rx_size)
        self._rx_mv = memoryview(self.rx)
        self.rx_n = 0
        self.state = IDLE
        self.version = V50
        self.clean_start = True
        self.receive_maximum = receive_maximum
        self.receive_maximum_policy = receive_maximum_policy
        self.resend_on_session_loss = resend_on_session_loss
        self.fast_wake = fast_wake
        self.max_inflight = max_inflight  # our own cap on QoS 1/2 publishes in flight
        self.conn_no = 0  # counts network connections
        self._early = False  # publishing behind CONNECT, before CONNACK
        # Topic alias tables (proto_alias), made when the first alias is used: a client
        # that never uses one does not load them.
        self.alias_max = 0  # the server's Topic Alias Maximum on this connection
        self.aliases_out: "Optional[OutboundAliases]" = None
        self.topic_alias_maximum = topic_alias_maximum  # ours, for the server's aliases
        self.aliases_in: "Optional[InboundAliases]" = None
        self.requests: "list[OutRequest]" = []  # SUBSCRIBE/UNSUBSCRIBE waiting for a connection
        self.auth: "Optional[AuthExchange]" = None  # enhanced authentication (proto_auth), if used
        # Set from CONNACK on each connection:
        self.quota = 65535  # QoS 1/2 publishes we may still send (server's Receive Maximum)
        self.server_receive_maximum = 1  # until a CONNACK tells: fast wake sends one at most
        self.keepalive_ms = 0
        self.last_sent = 0
        self.last_recv = 0
        self.ping_sent = -1  # ticks of an unanswered PINGREQ, or -1
        self._warned_receive_maximum = False
        self.packets_sent = 0
        self.packets_received = 0
        self.bytes_received = 0

    # -- connection life ---------------------------------------------------

    def start(self, connect: Connect, now: int) -> None:
        """A network connection is up: queue CONNECT and reset per-connection state."""
        if self.auth is not None:
            self.auth.start(connect)  # adds the Authentication Method and data (v5)
        self.version = connect.version
        self.clean_start = connect.clean_start
        self.decoder.version = connect.version
        self.rx_n = 0
        self.out.clear()
        self.alias_max = 0
        self.aliases_out = None
        self.aliases_in = None
        self.quota = 0  # nothing but CONNECT/AUTH until CONNACK
        self.keepalive_ms = connect.keepalive * 1000
        self.ping_sent = -1
        self._warned_receive_maximum = False
        self.state = CONNECTING
        self.conn_no += 1
        self._send_raw(encode_bytes(connect, connect.version), now)
        self.last_recv = now
        props = connect.properties
        if (
            self.fast_wake and not connect.clean_start and self.resend_on_session_loss
            and (props is None or props.authentication_method is None)  # MQTT-3.1.2-30: AUTH first
        ):
            # The specification lets a client send right behind CONNECT: with a
            # session to resume, a sensor's waiting messages go out in the same
            # round trip. Refused, they stay in the session (and its store). Not with
            # strict discard: that needs CONNACK's word on the session first.
            self._early = True
            rm = min(self.server_receive_maximum, self.max_inflight)
            self.quota = EARLY_MAX if rm > EARLY_MAX else rm
            self._requeue(True)
            self._pump(now)

    def connection_lost(self) -> None:
        """The network connection is gone. In-flight messages stay for the next one."""
        self.state = IDLE
        self._early = False
        self.rx_n = 0
        self.out.clear()

    @property
    def connected(self) -> bool:
        return self.state == CONNECTED

    def _on_connack(self, p: "Packet", now: int) -> None:
        self._early = False
        if p.reason_code:
            self.state = CLOSED
            self.listener.on_connack(p)
            return
        if p.session_present and self.clean_start:
            raise ProtocolError("session present after a clean start")
        auth = self.auth
        if auth is not None and auth.active:
            from .errors_refused import NotAuthorized  # loaded with proto_auth

            # Before anything is sent: the authenticator may still refuse the server.
            try:
                auth.succeeded(p.properties)
            except NotAuthorized:
                self._auth_failed(now)
                raise
        props = p.properties
        rm = 65535
        tam = 0
        mps = MAX_PACKET_SIZE
        if props is not None:
            if props.receive_maximum is not None:
                rm = props.receive_maximum
            if props.topic_alias_maximum is not None:
                tam = props.topic_alias_maximum
            if props.maximum_packet_size is not None:
                mps = props.maximum_packet_size
            if props.server_keep_alive is not None:
                self.keepalive_ms = props.server_keep_alive * 1000
        self.server_receive_maximum = rm
        max_qos = 2
        retain_ok = True
        if props is not None:
            if props.maximum_qos is not None:
                max_qos = props.maximum_qos
            retain_ok = props.retain_available != 0
        early = 0
        for e in self.session.inflight.values():
            if isinstance(e, OutPublish) and e.conn == self.conn_no and e.state != QUEUED:
                early += 1
        self.quota = min(rm, self.max_inflight) - early
        self.out.limit = mps
        self.alias_max = tam if self.version == _V50 else 0
        self.state = CONNECTED
        self._resume(p.session_present)
        if max_qos < 2 or not retain_ok:
            self._refuse_queued(max_qos, retain_ok)
        self.listener.on_connack(p)
        self._pump(now)

    def _resume(self, session_present: bool) -> None:
        # MQTT-4.4.0-1: with the session present, resend unacknowledged PUBLISH
        # (DUP set) and PUBREL in their original order. Without it, the server has
        # forgotten them: what it had acknowledged with PUBREC is done, the rest is
        # sent again as new messages (or failed, when asked to discard).
        s = self.session
        if not session_present:
            s.qos2_in.clear()
        self._requeue(session_present)
        # Requests in flight when the connection dropped are simply asked again.
        for e2 in s.inflight.values():
            if isinstance(e2, OutRequest) and e2.state == SENT and e2 not in self.requests:
                e2.state = QUEUED
                self.requests.append(e2)

    def _refuse_queued(self, max_qos: int, retain_ok: bool) -> None:
        """Publishes accepted before this server said what it supports fail rather than
        go out at a QoS or with a RETAIN it refused (MQTT-3.2.2-11, -14)."""
        keep: "list[Union[OutPublish, OutRequest]]" = []
        for e in self.session.queue:
            if (
                isinstance(e, OutPublish) and e.state != RELEASED  # a PUBREL is owed whatever the QoS
                and (e.qos > max_qos or (e.retain and not retain_ok))
            ):
                e.state = QUEUED  # not in flight: finishing it frees no quota
                self._finish(e, 0x9B if e.qos > max_qos else 0x9A, None)
            else:
                keep.append(e)
        self.session.queue = keep

    def _requeue(self, session_present: bool) -> None:
        """Put the publishes sent on an earlier connection back at the head of the queue."""
        s = self.session
        resend: "list[Union[OutPublish, OutRequest]]" = []
        for e in s.pending_publishes():
            if e.state == QUEUED or e.conn == self.conn_no:
                continue  # not sent yet, or sent behind this CONNECT already
            if not session_present:
                done = e.state == RELEASED
                e.state = QUEUED  # not in flight on this connection: finishing it frees no quota
                if done or not self.resend_on_session_loss:
                    self._finish(e, 0 if done else 0x80, None)
                    continue
                e.conn = 0  # resent as new: without DUP
            resend.append(e)
        if resend:
            again = set(resend)  # (a list would make this quadratic in a long queue)
            s.queue = resend + [e for e in s.queue if e.state == QUEUED and e not in again]

    # -- input ---------------------------------------------------------------

    def rx_space(self) -> memoryview:
        """Where the driver may read the next bytes into (then call ``received``)."""
        if self.rx_n == 0:
            return self._rx_mv
        return self._rx_mv[self.rx_n :]  # alloc: a view, only while a packet is split

    def received(self, n: int, now: int) -> None:
        """n bytes were read into ``rx_space()``: process every complete packet."""
        self.rx_n += n
        self.bytes_received += n
        self._process(now)

    def feed(self, data: "ReadBuffer", now: int) -> None:
        """Copy data into the receive buffer and process it (for drivers that get bytes)."""
        i = 0
        n = len(data)
        while i < n:
            room = len(self.rx) - self.rx_n
            k = n - i if n - i < room else room
            self.rx[self.rx_n : self.rx_n + k] = data[i : i + k]
            i += k
            self.received(k, now)
            if self.state == CLOSED or self.state == IDLE:
                return

    def _process(self, now: int) -> None:
        d = self.decoder
        mv = self._rx_mv
        end = self.rx_n
        pos = 0
        try:
            while self.state == CONNECTED or self.state == CONNECTING:
                # Acknowledgements, the most frequent packets, take short ways: a run of
                # success PUBACKs, PUBRECs and PUBCOMPs in _acks, another short one straight
                # to _on_ack; anything else goes through header, body and _handle.
                if self.state == CONNECTED:
                    if pos + 4 <= end and mv[pos] & 0xCF == 0x40:  # types 4 to 7, no flags
                        self.last_recv = now
                        # At most 16 or so at a time: CPython 3.11 specializes the code of a
                        # function once it has been called 8 times, so one call for a whole
                        # read of them would run unspecialized, slower than the general path.
                        stop = self._acks(mv, pos, end if end - pos < 80 else pos + 80)
                        if stop != pos:
                            pos = stop
                            if self.session.queue or self.requests:
                                self._pump(now)  # the freed quota lets the next ones go
                            continue
                    a = d.short_ack(mv, pos, end)
                    if a is not None:
                        pos += d.size
                        self.packets_received += 1
                        self.last_recv = now
                        self._on_ack(a, now)
                        continue
                if not d.header(mv, pos, end):
                    break
                if pos + d.size > end:
                    if d.size > len(self.rx):
                        self._grow(d.size, pos, end)
                        mv = self._rx_mv
                        end -= pos
                        pos = 0
                    break
                p = d.body(mv, pos)
                pos += d.size
                self.packets_received += 1
                self._handle(p, now)
        except MQTTError as e:
            self._fail(e, now)
            raise
        if pos:
            rest = end - pos
            if rest:
                self.rx[:rest] = mv[pos:end]  # alloc: a view, only while a packet is split
            self.rx_n = rest
            if not rest and len(self.rx) > self._rx_size:
                self.rx = bytearray(self._rx_size)  # alloc: give back a grown buffer
                self._rx_mv = memoryview(self.rx)

    def _acks(self, mv: "ReadBuffer", pos: int, end: int) -> int:
        """Take a run of success PUBACKs, PUBRECs and PUBCOMPs at mv[pos:end], each for
        a publish in flight in the state it answers; return where the run stops. The
        acknowledgements are those ``Decoder.short_ack`` takes (four bytes, or on MQTT
        5.0 a PUBACK or PUBREC of five with 0x10, No matching subscribers): what a
        publisher reads most, here without the Ack record and the calls of the general
        path, which gets whatever this does not take (and raises or warns). The caller
        has set ``last_recv`` to now."""
        # Locals and stack within MicroPython's 11 words (see short_ack), hence the
        # packet identifier first in e, and a call for each length. What _finish and
        # _ack do is written out here: calling them cost 3-4 % more per message on both
        # runtimes (a change to either must be made here too).
        if self.decoder.max_packet < 5:
            return pos
        inflight = self.session.inflight
        while pos + 4 <= end and self.state == CONNECTED:
            if mv[pos + 1] != 2 and not (
                mv[pos + 1] == 3 and (mv[pos] == 0x40 or mv[pos] == 0x50) and pos + 5 <= end
                and mv[pos + 4] == 0x10 and self.version == _V50
            ):
                break
            e: "Any" = (mv[pos + 2] << 8) | mv[pos + 3]
            e = inflight.get(e)
            if not isinstance(e, OutPublish):
                break
            if mv[pos] == 0x50:
                # PUBREC: PUBREL goes out (again, for a repeated PUBREC), PUBCOMP ends it.
                if e.qos != 2 or e.state == QUEUED:
                    break
                if e.state != RELEASED:
                    e.state = RELEASED
                    self.listener.on_pubrec(e)
                self.out.ack(self.version, _PUBREL, e.packet_id)
                self.packets_sent += 1
                self.last_sent = self.last_recv
                self.packets_received += 1
                pos += mv[pos + 1] + 2
                continue
            if mv[pos] == 0x40:
                if e.qos != 1 or e.state != SENT:
                    break
            elif mv[pos] != 0x70 or e.state != RELEASED:
                break
            self.quota += 1
            self.packets_received += 1
            del inflight[e.packet_id]
            if mv[pos + 1] == 2:
                pos += 4
                self.listener.on_publish_done(e, 0, None)
            else:
                pos += 5
                self.listener.on_publish_done(e, 0x10, None)
        return pos

    def _grow(self, size: int, pos: int, end: int) -> None:
        # The fixed header has been checked against max_incoming_packet already.
        rx = bytearray(size)  # alloc: a packet larger than the receive buffer
        rx[: end - pos] = self._rx_mv[pos:end]
        self.rx = rx
        self._rx_mv = memoryview(rx)
        self.rx_n = end - pos

    def _fail(self, e: MQTTError, now: int) -> None:
        # A peer error: tell the server why (v5) and stop reading.
        if self.version == _V50 and self.state != CLOSED and self.state != IDLE:
            code = e.reason_code if e.reason_code in (0x81, 0x82, 0x90, 0x93, 0x94, 0x95) else 0x82
            self._send_raw(encode_bytes(Disconnect(code), _V50), now)
        self.state = CLOSED

    def _handle(self, p: "Packet", now: int) -> None:
        self.last_recv = now
        t = p.type
        if self.state == CONNECTING and t != 2 and t != _AUTH:
            raise ProtocolError("%s before CONNACK" % packet_name(t))
        if t == _PUBLISH:
            self._on_publish(p, now)  # type: ignore[arg-type]
        elif _PUBACK <= t <= _PUBCOMP:
            self._on_ack(p, now)
        elif t == _PINGRESP:
            self.ping_sent = -1
        elif t == _SUBACK or t == _UNSUBACK:
            self._on_suback(p)
        elif t == 2:
            if self.state != CONNECTING:
                raise ProtocolError("second CONNACK")
            self._on_connack(p, now)
        elif t == _DISCONNECT:
            self.state = CLOSED
            self.listener.on_disconnect(p)
        elif t == _AUTH:
            self._on_auth(p, now)
        else:
            raise ProtocolError("a server must not send %s" % packet_name(t))

    def _on_auth(self, p: "Packet", now: int) -> None:
        auth = self.auth
        if auth is None:
            raise ProtocolError("AUTH from the server, but no enhanced authentication was asked for")
        from .errors_refused import NotAuthorized  # loaded with proto_auth

        try:
            reply = auth.on_auth(p, self.state == CONNECTING)
        except NotAuthorized:
            self._auth_failed(now)
            raise
        if reply is not None:
            self.send(reply, now)
        else:
            self.listener.on_auth(p)

    def _auth_failed(self, now: int) -> None:
        # The authenticator refused: 0x87 and 0x8C are for servers only; a client says 0x80.
        if self.state != CLOSED:
            self._send_raw(encode_bytes(Disconnect(0x80), _V50), now)
        self.state = CLOSED

    def _on_publish(self, m: "Message", now: int) -> None:
        props = m.properties
        if props is not None and props.topic_alias is not None:
            if self.aliases_in is None:
                from .proto_alias import InboundAliases

                self.aliases_in = InboundAliases(self.topic_alias_maximum)
            m.topic = self.aliases_in.resolve(m.topic, props.topic_alias)
        qos = m.qos
        if qos == 0:
            self.listener.on_message(m)
            return
        pid = m.packet_id
        if qos == 1:
            self.listener.on_message(m)
            self._ack(_PUBACK, pid, 0, now)
            return
        qos2 = self.session.qos2_in
        if pid not in qos2:
            if len(qos2) >= self.receive_maximum:
                if self.receive_maximum_policy == LIMIT_STRICT:
                    raise ProtocolError("server exceeded our Receive Maximum", 0x93)
                if not self._warned_receive_maximum:
                    self._warned_receive_maximum = True
                    self.listener.on_warning("server exceeded our Receive Maximum of %d" % self.receive_maximum)
            qos2.add(pid)
            # Stored before PUBREC goes out, so a restart never delivers it twice.
            self.listener.on_qos2_received(pid)
            self.listener.on_message(m)
        self._ack(_PUBREC, pid, 0, now)

    def _on_ack(self, a: "Packet", now: int) -> None:
        # a.type read where needed, not kept in a local: one local more takes
        # MicroPython's frame past 11 words, onto the heap, for every acknowledgement
        pid = a.packet_id
        if a.type == _PUBREL:
            if pid in self.session.qos2_in:
                self.session.qos2_in.discard(pid)
                self.listener.on_qos2_released(pid)
                self._ack(_PUBCOMP, pid, 0, now)
            else:
                self._ack(_PUBCOMP, pid, 0x92, now)
            return
        e = self.session.inflight.get(pid)
        if not isinstance(e, OutPublish) or e.state == QUEUED:
            if a.type == _PUBREC:
                self._ack(_PUBREL, pid, 0x92, now)
            else:
                self.listener.on_warning(
                    "%s for unknown packet identifier %d" % ("PUBACK" if a.type == _PUBACK else "PUBCOMP", pid)
                )
            return
        if a.type == _PUBACK:
            if e.qos != 1:
                raise ProtocolError("PUBACK for a QoS 2 message")
            self._finish(e, a.reason_code, a.properties)
        elif a.type == _PUBREC:
            if e.qos != 2:
                raise ProtocolError("PUBREC for a QoS 1 message")
            if a.reason_code >= 0x80:
                self._finish(e, a.reason_code, a.properties)
            else:
                if e.state != RELEASED:
                    e.state = RELEASED
                    self.listener.on_pubrec(e)
                self._ack(_PUBREL, pid, 0, now)
                return
        else:  # PUBCOMP
            if e.state != RELEASED:
                raise ProtocolError("PUBCOMP before PUBREL")
            self._finish(e, a.reason_code if a.reason_code != 0x92 else 0, a.properties)
        if self.session.queue or self.requests:
            self._pump(now)  # the freed quota lets the next one go

    def _finish(self, e: OutPublish, code: int, props: "Optional[Properties]") -> None:
        # (written out in _acks as well)
        if e.state != QUEUED and self.state == CONNECTED:
            self.quota += 1
        del self.session.inflight[e.packet_id]
        self.listener.on_publish_done(e, code, props)

    def _on_suback(self, a: "Packet") -> None:
        e = self.session.inflight.get(a.packet_id)
        if not isinstance(e, OutRequest) or e.state != SENT:
            self.listener.on_warning("acknowledgement for unknown packet identifier %d" % a.packet_id)
            return
        want = 9 if e.packet.type == 8 else 11
        if a.type != want:
            raise ProtocolError("wrong acknowledgement type for packet identifier %d" % a.packet_id)
        n = len(e.packet.topics)
        if (a.reason_codes or self.version == _V50 or want == 9) and len(a.reason_codes) != n:
            raise ProtocolError("%d reason codes for %d topic filters" % (len(a.reason_codes), n))
        del self.session.inflight[a.packet_id]
        self.listener.on_request_done(e, a)

    # -- output --------------------------------------------------------------

    def _send_raw(self, data: "ReadBuffer", now: int) -> None:
        self.out.raw(data)
        self.packets_sent += 1
        self.last_sent = now

    def _ack(self, t: int, pid: int, code: int, now: int) -> None:
        # (code set apart, not inline: inline it takes MicroPython's frame past 11 words,
        # onto the heap, for every acknowledgement sent; written out in _acks as well)
        if self.version != _V50:
            code = 0
        self.out.ack(self.version, t, pid, code)
        self.packets_sent += 1
        self.last_sent = now

    def _out_aliases(self) -> "OutboundAliases":
        """This connection's outbound alias table, made (and proto_alias loaded) on first use."""
        t = self.aliases_out
        if t is None:
            from .proto_alias import OutboundAliases

            t = self.aliases_out = OutboundAliases(self.alias_max)
        return t

    def publish_plain(self, topic: bytes, payload: "ReadBuffer", retain: bool, now: int) -> int:
        """Send a QoS 0 PUBLISH without properties or alias now (connected only) if it
        is the common case (``Output.put``); return its size, or 0 if it is not (then
        nothing is sent: the caller uses ``publish_qos0``)."""
        # The first byte, with 0x100 for 5.0 (encode_plain_publish).
        size = self.out.put((0x130 if self.version == _V50 else 0x30) | (1 if retain else 0), topic, payload)
        if size:
            self.packets_sent += 1
            self.last_sent = now
        return size

    def publish_qos0(
        self,
        topic: bytes,
        payload: "ReadBuffer",
        retain: bool,
        props: "Optional[EncodedProperties]",
        alias: bool,
        now: int,
    ) -> int:
        """Send a QoS 0 PUBLISH now (connected only); return its size, or minus its
        size when it exceeds the server's Maximum Packet Size (nothing sent)."""
        a = 0
        if alias and self.alias_max:
            a = self._out_aliases().lookup(topic)
            if a > 0:
                topic = b""
            else:
                a = -a
        size = self.out.publish(self.version, topic, payload, 0, retain, False, 0, props, a)
        if size < 0 and a and topic:  # a topic still there: the alias was new with this packet
            self._out_aliases().forget(topic)  # never sent: the server does not know it
        if size > 0:
            self.packets_sent += 1
            self.last_sent = now
        return size

    def publish(self, e: OutPublish, now: int) -> None:
        """Take a QoS 1/2 publish: it has a packet identifier (``session.assign``)
        and is sent now if the connection and the server's Receive Maximum allow,
        else it waits in the queue."""
        q = self.session.queue
        out = self.out
        if not q and self.quota > 0 and self.state == CONNECTED and out.n + out.extra_bytes < self.out_limit:
            self._send_publish(e, now)  # nothing ahead of it: straight out
            return
        q.append(e)
        if (self.state == CONNECTED or self._early) and self.quota > 0:
            self._pump(now)

    def _pump(self, now: int) -> None:
        q = self.session.queue
        while self.requests and self.state == CONNECTED:
            self._send_request(self.requests.pop(0), now)
        out = self.out
        limit = self.out_limit
        # Taken from the front by index and cut off once: pop(0) per message moves the
        # whole list each time, and a queue held back by a slow server runs long.
        i = 0
        try:
            while (
                i < len(q) and self.quota > 0 and (self.state == CONNECTED or self._early)
                and out.n + out.extra_bytes < limit
            ):
                e = q[i]
                i += 1
                if isinstance(e, OutPublish):
                    self._send_publish(e, now)
        finally:
            if i:
                del q[:i]

    def pump(self, now: int) -> None:
        """Encode more of the queue, after the driver took what was waiting."""
        if self.session.queue and self.quota > 0 and (self.state == CONNECTED or self._early):
            self._pump(now)

    def _send_publish(self, e: OutPublish, now: int) -> None:
        self.quota -= 1
        if not e.seq:
            e.seq = self.session.next_seq()
        if e.state == RELEASED:
            e.conn = self.conn_no
            self._ack(_PUBREL, e.packet_id, 0, now)
            return
        a = 0
        topic = e.topic
        if e.alias and self.alias_max:
            a = self._out_aliases().lookup(topic)
            if a > 0:
                topic = b""
            else:
                a = -a
        # DUP if it was sent before (conn, see OutPublish).
        size = self.out.publish(self.version, topic, e.payload, e.qos, e.retain, e.conn != 0, e.packet_id, e.props, a)
        e.conn = self.conn_no
        if size < 0:
            # Larger than the server accepts: fail this one, keep the connection.
            if a and topic:
                self._out_aliases().forget(e.topic)  # never sent: the server does not know it
            e.state = SENT
            self._finish(e, 0x95, None)
            return
        e.state = SENT
        self.packets_sent += 1
        self.last_sent = now

    def request(self, e: OutRequest, now: int) -> None:
        """Take a SUBSCRIBE/UNSUBSCRIBE that has a packet identifier."""
        if self.state == CONNECTED:
            self._send_request(e, now)
        else:
            self.requests.append(e)

    def _send_request(self, e: OutRequest, now: int) -> None:
        e.state = SENT
        data = encode_bytes(e.packet, self.version)
        if len(data) > self.out.limit:
            # Larger than the server accepts (MQTT-3.2.2-15): fail it, keep the connection.
            del self.session.inflight[e.packet_id]
            ack = SubAck(e.packet.type + 1, e.packet_id, [0x95] * len(e.packet.topics))
            self.listener.on_request_done(e, ack)
            return
        self._send_raw(data, now)

    def disconnect(self, reason_code: int, properties: "Optional[Properties]", now: int) -> None:
        if self.state == CONNECTED or self.state == CONNECTING:
            data = encode_bytes(Disconnect(reason_code, properties), self.version)
            if len(data) > self.out.limit and properties is not None:
                # MQTT-3.14.2-3, -4: drop the reason string and user properties to fit.
                p = Properties()
                for name, value in properties.items():
                    if name != "reason_string" and name != "user_properties":
                        setattr(p, name, value)
                data = encode_bytes(Disconnect(reason_code, p), self.version)
            self._send_raw(data, now)
        self.state = CLOSED

    def reauthenticate(self, now: int) -> None:
        """Begin re-authentication (AUTH 0x19); it ends with ``listener.on_auth`` or, if
        the server refuses, its DISCONNECT. Raises ValueError when it cannot begin."""
        auth = self.auth
        if auth is None or self.state != CONNECTED or self.version != _V50:
            raise ValueError("re-authentication needs an MQTT 5.0 connection with an authenticator")
        self.send(auth.reauthenticate(), now)

    def send(self, packet: "Packet", now: int) -> None:
        """Send any other packet (AUTH) as it is."""
        self._send_raw(encode_bytes(packet, self.version), now)

    # -- time ----------------------------------------------------------------

    def deadline(self, now: int) -> int:
        """Milliseconds until ``tick`` has work to do, or -1 for none."""
        ka = self.keepalive_ms
        if self.state != CONNECTED or not ka:
            return -1
        if self.ping_sent >= 0:
            left = ka - ticks_diff(now, self.ping_sent)
        else:
            left = ka - max(ticks_diff(now, self.last_sent), ticks_diff(now, self.last_recv))
        return left if left > 0 else 0

    def tick(self, now: int) -> None:
        """Send PINGREQ when the connection has been quiet for a keepalive period;
        raise KeepAliveTimeout when the answer has not come within another."""
        ka = self.keepalive_ms
        if self.state != CONNECTED or not ka:
            return
        if self.ping_sent >= 0:
            if ticks_diff(now, self.ping_sent) >= ka:
                self.state = CLOSED
                from .errors_rare import KeepAliveTimeout

                raise KeepAliveTimeout("no PINGRESP within %d ms" % ka)
        elif ticks_diff(now, self.last_sent) >= ka or ticks_diff(now, self.last_recv) >= ka:
            self._send_raw(encode_bytes(PINGREQ_PACKET, self.version), now)
            self.ping_sent = now

