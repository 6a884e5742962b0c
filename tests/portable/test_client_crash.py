"""Crash proof: a publisher with a session store publishes QoS 1 and QoS 2 messages while
the broker is down, is killed with SIGKILL, and a new process on the same store delivers
every QoS 1 message at least once and every QoS 2 message exactly once, whether the broker
kept the session or lost it. paho-mqtt is the subscriber. Also: inbound QoS 2 ids survive
a restart, so a handler never sees a message twice."""

import asyncio

from fakebroker import FakeBroker
from support import RUNTIME, control, run, unhexlify

import mq
from mq.wire_packets import Ack, Connack, Message, SubAck

N = 10


async def _crash(kind, session_kept):
    b = await control("broker", persistence=session_kept)
    store_dir = await control("tempdir")
    sink_args = dict(url=b["url"], topic="crash/#", qos=2, client_id="crash-sink", persistent=True)
    sink = await control("paho_subscribe", **sink_args)
    p1 = await control("spawn", runtime=RUNTIME, script="crash_publisher.py", args=[b["url"], kind, store_dir,
                                                                                      "first", N])
    await control("proc_line", id=p1, text="connected")
    if session_kept:
        await control("broker_stop", id=b["id"])  # saves the sessions
    else:
        await control("broker_kill", id=b["id"])  # without persistence: every session is gone
    await control("proc_line", id=p1, text="published")
    await control("proc_kill", id=p1)
    await control("broker_start", id=b["id"])
    if not session_kept:
        await control("paho_close", id=sink)
        sink = await control("paho_subscribe", **sink_args)
    p2 = await control("spawn", runtime=RUNTIME, script="crash_publisher.py", args=[b["url"], kind, store_dir,
                                                                                      "second", N])
    line = await control("proc_line", id=p2, text="connected")
    assert line.endswith("session_present=%d" % session_kept), line
    got = await control("paho_messages", id=sink, count=2 * N, timeout=20, distinct=True)
    q1 = [unhexlify(m["payload"]) for m in got if m["topic"] == "crash/q1"]
    q2 = [unhexlify(m["payload"]) for m in got if m["topic"] == "crash/q2"]
    assert set(q1) == set(b"q1-%d" % i for i in range(N)), q1
    assert sorted(q2) == sorted(b"q2-%d" % i for i in range(N)), q2  # exactly once


def test_crash_file_store_broker_kept_session():
    run(_crash("file", True))


def test_crash_file_store_broker_lost_session():
    run(_crash("file", False))


def test_crash_flash_store_broker_kept_session():
    run(_crash("flash", True))


def test_crash_flash_store_broker_lost_session():
    run(_crash("flash", False))


class Inbox:
    def __init__(self):
        self.messages = []

    def __call__(self, client, message):
        self.messages.append(message.payload)


async def _qos2_ids_survive_restart():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    inbox = Inbox()
    options = dict(client_id="q2-in", clean_start=False, session_expiry=600, auto_reconnect=False,
                   subscriptions={"t/#": (inbox, 2)})
    clients = []
    try:
        task = asyncio.create_task(mq.dial(fb.url, store=mq.FileStore(store_dir, "q2-in"), **options))
        conn = await fb.accept()
        await conn.recv()  # CONNECT
        conn.send_packet(Connack(False, 0))
        clients.append(await task)
        sub = await conn.recv()  # no session: subscriptions= are made
        conn.send_packet(SubAck(9, sub.packet_id, [2]))
        conn.send_packet(Message("t/x", b"once", 2, False, False, 7))
        rec = await conn.recv_type(5)  # PUBREC: the id is in the store by now
        assert rec.packet_id == 7 and inbox.messages == [b"once"]
        conn.close()  # the process dies before PUBREL

        # A new process on the same store: the server repeats the PUBLISH (DUP).
        task = asyncio.create_task(mq.dial(fb.url, store=mq.FileStore(store_dir, "q2-in"), **options))
        conn = await fb.accept()
        await conn.recv()
        conn.send_packet(Connack(True, 0))
        clients.append(await task)
        conn.send_packet(Message("t/x", b"once", 2, False, True, 7))
        rec = await conn.recv_type(5)
        assert rec.packet_id == 7
        conn.send_packet(Ack(6, 7))  # PUBREL
        comp = await conn.recv_type(7)
        assert comp.packet_id == 7 and comp.reason_code == 0
        assert inbox.messages == [b"once"]  # not handed over a second time
        # Released, the id is free: a new message under it is delivered.
        conn.send_packet(Message("t/x", b"again", 2, False, False, 7))
        await conn.recv_type(5)
        assert inbox.messages == [b"once", b"again"]
    finally:
        for c in clients:
            await c.disconnect()
        fb.close()


def test_inbound_qos2_id_survives_restart():
    run(_qos2_ids_survive_restart())
