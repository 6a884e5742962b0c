"""Flow control in the client's own queues: QoS 0 while disconnected (drop or block),
and back-pressure from slow coroutine handlers (incoming_queue)."""

import asyncio

from fakebroker import WAIT, Events, Harness
from support import run

import mq
from mq.wire_encode import encode_bytes
from mq.wire_packets import PUBACK, PUBLISH, Connack, Message


async def _qos0_policies():
    h = await Harness().start()
    try:
        for policy in (mq.QOS0_DROP, mq.QOS0_BLOCK):
            ev = Events()
            client, conn, _ = await h.dial(qos0_policy=policy, **ev.options())
            conn.close()
            await ev.wait_lost()
            tok = client.publish("q0", b"while away")
            conn2 = await h.fb.accept()
            await conn2.recv()
            conn2.send_packet(Connack(False, 0))
            await ev.wait_connects(2)
            client.publish("q0", b"marker")
            m = await conn2.recv()
            if policy == mq.QOS0_DROP:
                assert tok.done() and tok.dropped
                assert m.payload == b"marker"
            else:
                assert not tok.dropped
                await tok.wait(WAIT)  # written once the connection came back, before the marker
                assert m.payload == b"while away" and (await conn2.recv()).payload == b"marker"
    finally:
        await h.close()


def test_qos0_while_disconnected_dropped_or_held_by_policy():
    run(_qos0_policies())


async def _backpressure():
    h = await Harness().start()
    release = asyncio.Event()
    all_done = asyncio.Event()
    done = []

    async def slow(client, message):
        await release.wait()
        done.append(message.payload)
        if len(done) == 4:
            all_done.set()

    try:
        client, conn, _ = await h.dial(incoming_queue=2, default_handler=slow)
        for i in range(3):
            conn.send_packet(Message("in", b"%d" % i, 1, packet_id=i + 1))
            ack = await conn.recv()
            assert ack.type == PUBACK and ack.packet_id == i + 1
        # m0 runs (blocked), m1 and m2 wait: with the queue full the reader stopped right
        # after acknowledging m2, before the writer even sent that PUBACK.
        assert client._link.paused
        conn.send_packet(Message("in", b"3", 1, packet_id=4))
        assert client.stats()["packets_received"] == 4  # CONNACK and m0..m2: m3 not read
        release.set()
        ack = await conn.recv()
        assert ack.type == PUBACK and ack.packet_id == 4
        await asyncio.wait_for(all_done.wait(), WAIT)  # the handlers run on the dispatcher, in order
        assert done == [b"0", b"1", b"2", b"3"]
        # Publishing still works.
        tok = client.publish("out", b"x", qos=1)
        p = await conn.recv()
        assert p.type == PUBLISH
        conn.send_packet(mq.wire_packets.Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
    finally:
        release.set()
        await h.close()


def test_slow_coroutine_handlers_pause_reading_instead_of_dropping():
    run(_backpressure())


async def _handlers_awaiting_acks():
    # Handlers that publish and await the PUBACK while the queue is full: the reader
    # must keep reading for them, or nothing would ever move again.
    h = await Harness().start()
    done = []
    all_done = asyncio.Event()

    try:
        async def answer(client, message):
            await client.publish("out", message.payload, qos=1)
            done.append(message.payload)
            if len(done) == 4:
                all_done.set()

        _client, conn, _ = await h.dial(incoming_queue=2, default_handler=answer)
        conn.send(b"".join(encode_bytes(Message("in", b"%d" % i, 1, packet_id=i + 1), 5) for i in range(4)))
        outs = 0
        while outs < 4:
            p = await conn.recv()
            if p.type == PUBLISH:
                outs += 1
                conn.send_packet(mq.wire_packets.Ack(PUBACK, p.packet_id))
        await asyncio.wait_for(all_done.wait(), WAIT)
        assert done == [b"0", b"1", b"2", b"3"]
    finally:
        await h.close()


def test_handlers_awaiting_acknowledgements_do_not_deadlock_a_full_queue():
    run(_handlers_awaiting_acks())


async def _qos0_backed_up_link():
    # The fake broker reads nothing while the client publishes 1 KiB QoS 0 messages:
    # once the socket and the stream hold more than the high-water mark, QOS0_DROP
    # drops and QOS0_BLOCK holds back. Everything accepted arrives intact and in order
    # when the broker reads again, and publishing goes on as before.
    h = await Harness().start()
    filler = bytes(range(250)) * 4
    try:
        for policy in (mq.QOS0_DROP, mq.QOS0_BLOCK):
            client, conn, _ = await h.dial(qos0_policy=policy, buffer_size=256)
            accepted = []
            held = None
            for i in range(20000):  # the kernel's buffers take a few hundred KiB at most
                tok = client.publish("q0", b"%05d" % i + filler, 0)
                if tok.dropped:
                    break
                accepted.append(tok)
                if not tok.done():
                    held = tok
                    break
                await asyncio.sleep(0)  # let the writer task run, as an application would
            assert len(accepted) < 20000, "the link never backed up"
            if policy == mq.QOS0_DROP:
                assert held is None and tok.dropped and tok.error is None
            else:
                assert held is not None and not held.dropped
                # Held messages wait in order behind the one that blocked.
                accepted += [client.publish("q0", b"%05d" % (len(accepted) + k) + filler, 0) for k in range(3)]
            for i in range(len(accepted)):
                p = await conn.recv()
                assert p.type == PUBLISH and p.topic == "q0" and p.payload == b"%05d" % i + filler, (i, p)
            for tok in accepted:
                await tok.wait(WAIT)
                assert not tok.dropped and tok.error is None
            # Drained: accepted again at once.
            tok = client.publish("q0", b"after", 0)
            assert tok.done() and not tok.dropped
            assert (await conn.recv()).payload == b"after"
            await client.disconnect()
            h.clients.remove(client)
    finally:
        await h.close()


def test_qos0_on_a_backed_up_link_is_dropped_or_held_by_policy_and_none_accepted_is_lost():
    run(_qos0_backed_up_link())


async def _write_fails_in_publish():
    # The server's socket closes while the application publishes without yielding: the
    # client's reader cannot see it first, so publish() itself writes into the dead
    # connection (on MicroPython the socket raises there). The failure ends the
    # connection as a lost one; publish() never raises it, and the QoS 1 message that
    # was accepted goes out again on the next connection.
    h = await Harness().start()
    try:
        ev = Events()
        client, conn, _ = await h.dial(buffer_size=256, **ev.options())
        conn.close()
        toks = [client.publish("w", bytes(200), 0) for _ in range(200)]
        kept = client.publish("w/1", b"kept", 1)
        err = await ev.wait_lost()
        assert isinstance(err, (OSError, EOFError, mq.MQTTError)), repr(err)
        assert all(t.done() for t in toks)
        conn2 = await h.fb.accept()
        await conn2.recv()  # CONNECT
        conn2.send_packet(Connack(False, 0))
        p = await conn2.recv_type(PUBLISH)
        while p.topic != "w/1":  # QoS 0 held back while the link was down may come first
            p = await conn2.recv_type(PUBLISH)
        assert p.payload == b"kept" and p.qos == 1
        conn2.send_packet(mq.wire_packets.Ack(PUBACK, p.packet_id))
        await kept.wait(WAIT)
        assert len(ev.lost) == 1
    finally:
        await h.close()


def test_a_write_failing_inside_publish_is_a_lost_connection_not_an_exception():
    run(_write_fails_in_publish())
