"""One wake of a deep-sleep sensor with a persistent session:

    publish the reading at QoS 1 (saved in the flash store at once)
    -> connect (clean_start=False, a session that outlives the sleep): the reading
       goes out right behind CONNECT (fast wake), one round trip to its PUBACK
    -> await its PUBACK
    -> collect the commands the broker queued while the device slept
    -> disconnect (the session stays on the broker) -> the caller sleeps.

How long to listen: a device cannot know how many commands are queued. The broker
sends them right after CONNACK, before it reads the reading that followed CONNECT,
so most are in by the time the publish completes. After that the cycle waits
until ``quiet_ms`` pass with no new command (a broker holding more back behind its
in-flight window sends them as we acknowledge), but never longer than
``linger_ms`` in all. Without a session on the broker (first wake, or it expired)
nothing can be queued, so it does not wait at all. A command that arrives after
the cycle stays queued for the next wake.

A reading whose PUBACK does not come in ``publish_timeout`` s, or whose connection
fails or is refused, stays in the store and is sent again (DUP) on the next wake; the
error is raised to the caller.
"""

import asyncio

import mq

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython (tests)
    from mq_cpython_shim import ticks_diff, ticks_ms

DAY = 24 * 3600


async def wake_cycle(
    url,
    client_id,
    store,
    read_sensor,
    topic,
    on_message=None,
    cmd_topic=None,
    session_expiry=DAY,
    qos=mq.AT_LEAST_ONCE,
    quiet_ms=250,
    linger_ms=2000,
    publish_timeout=10,
    **dial_options,
):
    """Run one wake; returns the list of ``mq.Message`` received on cmd_topic
    (default ``"cmd/" + client_id``). ``read_sensor()`` returns the payload (bytes
    or str; a coroutine is awaited); ``on_message(client, message)`` is called for
    each command as it arrives. Other keyword arguments go to ``mq.Client``."""
    if cmd_topic is None:
        cmd_topic = "cmd/" + client_id
    received = []
    arrived = asyncio.Event()

    def handler(client, message):
        received.append(message)
        arrived.set()
        if on_message is not None:
            return on_message(client, message)
        return None

    reading = read_sensor()
    if hasattr(reading, "send"):  # a coroutine
        reading = await reading
    if isinstance(reading, str):
        reading = reading.encode()

    client = mq.Client(
        url,
        client_id=client_id,
        clean_start=False,
        session_expiry=session_expiry,
        store=store,
        # A first wake subscribes (QoS 1, so commands are queued while asleep); later
        # wakes find the subscription in the broker's session and in the store.
        subscriptions={cmd_topic: (handler, mq.AT_LEAST_ONCE)},
        **dial_options,
    )
    # Fast wake: published before connecting, a QoS 1/2 reading is in the store now
    # and leaves right behind CONNECT; if the connection fails it waits there for the
    # next wake. (A QoS 0 reading is published once connected: the client drops QoS 0
    # while it has no connection.)
    tok = client.publish(topic, reading, qos=qos) if qos else None
    try:
        await client.connect()
        if tok is None:
            tok = client.publish(topic, reading, qos=qos)
        await tok.wait(publish_timeout)
        if client.session_present:
            await _linger(received, arrived, quiet_ms, linger_ms)
    finally:
        await client.disconnect()
    return received


async def _linger(received, arrived, quiet_ms, linger_ms):
    """Wait for more messages until quiet_ms pass without one, at most linger_ms."""
    start = ticks_ms()
    while True:
        left = linger_ms - ticks_diff(ticks_ms(), start)
        if left <= 0:
            return
        count = len(received)
        arrived.clear()
        try:
            await asyncio.wait_for(arrived.wait(), min(quiet_ms, left) / 1000)
        except asyncio.TimeoutError:
            if len(received) == count:
                return  # quiet: nothing more is coming now
