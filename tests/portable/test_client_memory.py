"""What a plain client costs in RAM: a QoS 0 publish and the writer's flush of it
allocate nothing on MicroPython, also with a payload larger than the send buffer
(micropython.heap_lock(), against a real Mosquitto, paho counting); the modules a
client without a store or authenticator never needs are not loaded; and the tasks that
are not always needed (supervisor, dispatcher) run only while they have work, without
missing any (against the scripted broker)."""

import asyncio

from fakebroker import WAIT, Events, Harness
from support import MICROPYTHON, RUNTIME, SkipTest, control, run

import mq
from mq.wire_packets import CONNECT, SUBACK, SUBSCRIBE, Connack, Message, SubAck

if MICROPYTHON:
    import micropython

WARMUP = 20
LOCKED = 200


async def _locked_qos0(size, burst=1):
    # burst publishes, then one yield, which lets the writer task run: with burst=1
    # each publish is flushed on its own. In a longer burst the send buffer fills, and
    # a packet that would not fit behind what it holds sends that first, rather than
    # spilling into a chunk of its own. Any allocation in publish() or in the writer
    # raises MemoryError; in the writer that drops the connection.
    b = await control("broker")
    sub = await control("paho_subscribe", url=b["url"], topic="alloc/#", qos=0)
    c = await mq.dial(b["url"], qos0_policy=mq.QOS0_BLOCK)
    payload = b"x" * size
    warmup = WARMUP // burst
    rounds = LOCKED // burst
    try:
        for _ in range(warmup):
            for _ in range(burst):
                c.publish("alloc/t", payload, 0)
            await asyncio.sleep_ms(0)
        micropython.heap_lock()
        try:
            for _ in range(rounds):
                for _ in range(burst):
                    c.publish("alloc/t", payload, 0)
                await asyncio.sleep_ms(0)
        finally:
            micropython.heap_unlock()
        assert c.is_connected
        total = (warmup + rounds) * burst
        got = await control("paho_messages", id=sub, count=total)
        assert len(got) == total, len(got)
    finally:
        await c.disconnect()


def test_qos0_publish_and_flush_allocate_nothing():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    run(_locked_qos0(32))


def test_qos0_publish_larger_than_the_send_buffer_allocates_nothing():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    run(_locked_qos0(1024))  # more than the default 1 KiB send buffer, which grows in the warm-up


def test_bursts_of_mid_sized_qos0_publishes_allocate_nothing():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    for size in (32, 600, 900):  # two 600 or 900 B packets do not fit the 1 KiB buffer
        run(_locked_qos0(size, 8))


async def _modules():
    p = await control("spawn", runtime=RUNTIME, script="import_probe.py", args=[])
    line = await control("proc_line", id=p, text="modules:")
    loaded = line.split()[1:]
    assert "mq.io_client" in loaded and "mq.wire_encode" in loaded, loaded
    optional_modules = (
        "store", "io_session", "auth", "reasons", "io_request", "io_intercept", "io_tls",
        "proto_alias", "errors_refused", "errors_rare",
    )
    for optional in ["mq." + m for m in optional_modules]:
        assert optional not in loaded, (optional, loaded)
    # ... and each of them loads when its name is first used.
    await control("proc_line", id=p, text="lazy: ok")


def test_plain_client_loads_no_optional_module():
    run(_modules())


async def _tasks_on_demand():
    # Each task costs about half a KiB on MicroPython: a connected client runs only its
    # connection's reader, writer and keepalive; the supervisor lives from a lost
    # connection until it is back, the dispatcher from the first coroutine handler on.
    h = await Harness().start()
    ev = Events()
    try:
        client, c1, _ = await h.dial(**ev.options())
        link = client._link
        # On CPython the transport's callback reads (io_feed): no reader task.
        assert (link.feed is None) == MICROPYTHON
        assert len(link.tasks) == (3 if MICROPYTHON else 2), link.tasks
        assert client._supervisor is None and client._dispatcher is None
        c1.close()
        await ev.wait_lost()
        supervisor = client._supervisor
        assert supervisor is not None
        c2 = await h.fb.accept()
        assert (await c2.recv()).type == CONNECT
        c2.send_packet(Connack(False, 0))
        await supervisor  # it ends once the connection is back
        assert client._supervisor is None and client.is_connected
        assert ev.connects == 2 and client._dispatcher is None

        handled = asyncio.Event()

        async def handler(c, m):
            handled.set()

        client.subscribe("t", 0, handler)
        assert (await c2.recv()).type == SUBSCRIBE
        c2.send_packet(SubAck(SUBACK, 1, [0]))
        c2.send_packet(Message("t", b"x"))
        await asyncio.wait_for(handled.wait(), WAIT)
        assert client._dispatcher is not None
    finally:
        await h.close()


def test_supervisor_and_dispatcher_tasks_run_only_while_they_have_work():
    run(_tasks_on_demand())


async def _lost_while_reconnecting():
    # The supervisor is still in its reconnection when the new connection is lost
    # (here: from on_connect, which runs inside it): it must handle that loss too,
    # since no second supervisor starts while it runs.
    h = await Harness().start()
    ev = Events()

    def on_connect(client):
        ev.on_connect(client)
        if ev.connects == 2:
            client._lost(client._link, OSError("lost again at once"))

    try:
        client, c1, _ = await h.dial(on_connection_lost=ev.on_connection_lost, on_connect=on_connect)
        c1.close()
        await ev.wait_lost()
        for _ in range(2):
            c = await h.fb.accept()
            assert (await c.recv()).type == CONNECT
            c.send_packet(Connack(False, 0))
        await ev.wait_connects(3)
        assert [str(e) for e in ev.lost[1:]] == ["lost again at once"], ev.lost
        assert client.is_connected
    finally:
        await h.close()


def test_a_loss_during_the_reconnection_is_recovered_too():
    run(_lost_while_reconnecting())


async def _await_tokens():
    done = mq.Token()
    done._complete(None, 0x10)
    assert (await done) is done  # done: the token is its own iterator
    assert (await done) is done  # ... and can be awaited again
    failed = mq.Token()
    failed._complete(mq.MQTTError("refused", 0x87), 0x87)
    e = None
    try:
        await failed
    except mq.MQTTError as err:
        e = err
    assert e is failed.error
    pending = mq.Token()
    task = asyncio.create_task(_complete_soon(pending))
    assert (await pending) is pending
    await task


async def _complete_soon(tok):
    tok._complete()


def test_await_returns_the_token_done_failed_or_pending():
    run(_await_tokens())


async def _await(tok, got):
    got.append(await tok)


async def _cancelled_waiter():
    from mq.io_token import waiting

    tok = mq.Token()
    got = []
    cancelled = asyncio.create_task(_await(tok, got))
    kept = asyncio.create_task(_await(tok, got))
    await asyncio.sleep(0)  # both wait on the token now
    assert waiting[0] == 2
    cancelled.cancel()
    try:
        await cancelled
    except asyncio.CancelledError:
        pass
    assert waiting[0] == 1
    tok._complete()
    await kept
    assert got == [tok] and waiting[0] == 0
    assert (await tok.wait(timeout=1)) is tok


def test_cancelling_one_waiter_leaves_the_others_waiting_on_the_token():
    run(_cancelled_waiter())
