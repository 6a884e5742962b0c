"""The MicroPython side of bench/mp_memory.py: one measurement per run, one JSON line
out (lines starting with "@" are for the driver to act on).

    micropython bench/mp_probe.py MEASURE LIB URL [ARG]

LIB is mq5 or mq311 (mq, MQTT 5.0 or 3.1.1), umqtt (umqtt.simple), mqtt_as (the
mqtt_as API as PyPI ships it: mqtt_async), or none (asyncio and this probe only: the
reference for the smallest heap). Where the libraries are imported from is
the driver's business: it sets MICROPYPATH, with .py sources or .mpy files; or, for
a ROMFS image, it runs a few lines first (ROMFS_BOOT in bench/mp_memory.py) that read
the image, mount it at /rom and put that on sys.path, then import this module: BASE
below is taken with the image and the mount already in the heap, as on a device whose
firmware mounts its ROMFS partition at boot. This module itself is the same .mpy for
every way of loading.

MEASURE:
  heap      gc.mem_alloc() after gc.collect(): at the start of this script, and after
            the library (and asyncio) is imported and a connection is up; also the
            modules then loaded, and after one QoS 0/1/2 publish-and-subscribe round.
  alloc OP  gc.mem_alloc() delta over N operations with the collector disabled, after
            a warm-up and a gc.collect(). OP: pub0 (publish, then yield once so the
            writer flushes it), pub0await (the same, awaiting the publish's token),
            pub0burst (N publishes back to back, then wait until all are written),
            pub1 (publish and wait for the PUBACK), recv0 / recv1 (messages the
            driver publishes to us, at that QoS), loop (the empty measuring loop).
  session   connect, subscribe (QoS 2), publish at QoS 0, 1 and 2 to ourselves,
            receive all three, disconnect; "ok" true if that worked. The driver runs
            it under -X heapsize=... to find the smallest heap that does.
  modules   heap cost of each mq module imported alone, in dependency order (the
            driver passes a package name whose __init__ is empty).
"""

import gc
import sys

gc.collect()
BASE = gc.mem_alloc()

import json  # noqa: E402
import time  # noqa: E402

N = 1000
WARMUP = 200
TOPIC = "bench/mem"
PAYLOAD = b"x" * 32


def out(**kw):
    print(json.dumps(kw))


def host_port(url):
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    return host, int(port)


def mq_modules():
    return sorted(k for k in sys.modules if k == "mq" or k.startswith("mq."))


class Arrivals:
    """Counts the messages a recv probe receives; done fires at the count wanted. Its
    handlers allocate nothing (a bound method made once, small-int counts)."""

    def __init__(self):
        import asyncio

        self.n = 0
        self.want = WARMUP
        self.done = asyncio.Event()

    def hit(self):
        self.n += 1
        if self.n == self.want:
            self.done.set()

    def on_mq(self, client, msg):
        self.hit()

    def on_mqtt_as(self, topic, msg, retained, qos):
        self.hit()

    async def measure(self):
        """The driver's WARMUP messages, then N more with the collector off: the
        gc.mem_alloc() readings before and after them."""
        import asyncio

        print("@ready")
        await self.done.wait()
        self.done = asyncio.Event()
        self.want = WARMUP + N
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        print("@go")
        await self.done.wait()
        return a, gc.mem_alloc()


def heap_now():
    gc.collect()
    return gc.mem_alloc()


# -- mq -----------------------------------------------------------------------------


async def mq_connect(lib, url, **kw):
    import mq

    proto = mq.V50 if lib == "mq5" else mq.V311
    return await mq.dial(url, client_id="mp-probe-" + lib, protocol=proto, auto_protocol=False, **kw)


async def mq_heap(lib, url):
    import asyncio

    client = await mq_connect(lib, url)
    await asyncio.sleep_ms(50)
    after = heap_now()
    mods = mq_modules()
    got = []
    await client.subscribe(TOPIC, 2, lambda c, m: got.append(m.qos))
    for q in (0, 1, 2):
        await client.publish(TOPIC, PAYLOAD, q)
    for _ in range(500):
        if len(got) == 3:
            break
        await asyncio.sleep_ms(10)
    after_round = heap_now()
    mods_round = mq_modules()
    await client.disconnect()
    out(base=BASE, after=after, after_round=after_round, modules=mods, modules_round=mods_round, received=len(got))


async def mq_alloc(lib, url, op):
    import asyncio

    sleep0 = asyncio.sleep_ms
    arrivals = Arrivals()
    client = await mq_connect(lib, url, qos0_policy=1)
    pub = client.publish
    rng = range(N)
    if op in ("recv0", "recv1"):
        await client.subscribe(TOPIC, 1 if op == "recv1" else 0, arrivals.on_mq)
        a, b = await arrivals.measure()
    else:
        for _ in range(WARMUP):
            if op == "pub1":
                await pub(TOPIC, PAYLOAD, 1)
            else:
                await pub(TOPIC, PAYLOAD, 0)
            await sleep0(0)
        await sleep0(20)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        if op == "pub0":
            for _ in rng:
                pub(TOPIC, PAYLOAD, 0)
                await sleep0(0)
        elif op == "pub0await":
            for _ in rng:
                await pub(TOPIC, PAYLOAD, 0)
                await sleep0(0)
        elif op == "pub0burst":
            for _ in rng:
                pub(TOPIC, PAYLOAD, 0)
            while client.proto.out.pending():
                await sleep0(0)
            await sleep0(0)
        elif op == "pub1":
            for _ in rng:
                await pub(TOPIC, PAYLOAD, 1)
        elif op == "loop":
            for _ in rng:
                await sleep0(0)
        b = gc.mem_alloc()
    gc.enable()
    await client.disconnect()
    out(op=op, n=N, delta=b - a, per_op=(b - a) / N)


async def mq_session(lib, url):
    import asyncio

    got = []
    client = await mq_connect(lib, url)
    await client.subscribe(TOPIC, 2, lambda c, m: got.append(m.qos))
    for q in (0, 1, 2):
        await client.publish(TOPIC, PAYLOAD, q)
    for _ in range(500):
        if len(got) == 3:
            break
        await asyncio.sleep_ms(10)
    await client.disconnect()
    gc.collect()
    out(ok=sorted(got) == [0, 1, 2], received=got, mem_alloc=gc.mem_alloc(), mem_free=gc.mem_free())


# -- umqtt.simple ----------------------------------------------------------------------


def umqtt_client(url):
    from umqtt.simple import MQTTClient

    host, port = host_port(url)
    c = MQTTClient(b"mp-probe-umqtt", host, port)
    c.connect()
    return c


def umqtt_heap(url):
    c = umqtt_client(url)
    after = heap_now()
    got = []
    c.set_callback(lambda t, m: got.append(1))
    c.subscribe(TOPIC.encode(), 1)
    for q in (0, 1):
        c.publish(TOPIC.encode(), PAYLOAD, qos=q)
    while len(got) < 2:
        c.wait_msg()
    after_round = heap_now()
    c.disconnect()
    out(base=BASE, after=after, after_round=after_round, received=len(got))


def umqtt_alloc(url, op):
    c = umqtt_client(url)
    topic = TOPIC.encode()
    rng = range(N)
    n = [0]

    def on_msg(t, m):
        n[0] += 1

    c.set_callback(on_msg)
    if op in ("recv0", "recv1"):
        c.subscribe(topic, 1 if op == "recv1" else 0)
        print("@ready")
        while n[0] < WARMUP:
            c.wait_msg()
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        print("@go")
        while n[0] < WARMUP + N:
            c.wait_msg()
        b = gc.mem_alloc()
    else:
        qos = 1 if op == "pub1" else 0
        for _ in range(WARMUP):
            c.publish(topic, PAYLOAD, qos=qos)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        if op == "loop":
            for _ in rng:
                pass
        else:
            for _ in rng:
                c.publish(topic, PAYLOAD, qos=qos)
        b = gc.mem_alloc()
    gc.enable()
    c.disconnect()
    out(op=op, n=N, delta=b - a, per_op=(b - a) / N)


def umqtt_session(url):
    c = umqtt_client(url)
    got = []
    c.set_callback(lambda t, m: got.append(1))
    c.subscribe(TOPIC.encode(), 1)
    for q in (0, 1):
        c.publish(TOPIC.encode(), PAYLOAD, qos=q)
    while len(got) < 2:
        c.wait_msg()
    c.disconnect()
    out(ok=True, received=len(got))


# -- mqtt_as (mqtt_async) -----------------------------------------------------------------


def mqtt_as_client(url, cb):
    import mqtt_async

    class WifiPortSocket:  # the unix port's getaddrinfo returns a raw sockaddr
        @staticmethod
        def getaddrinfo(host, port):
            return [(2, 1, 0, "", (host, port))]

    mqtt_async.socket = WifiPortSocket
    mqtt_async.log.info = mqtt_async.log.debug  # keep "Connecting to ..." off stdout
    config = mqtt_async.config
    config.server, config.port = host_port(url)
    config.client_id = "mp-probe-mqtt_as"
    config.subs_cb = cb
    return mqtt_async.MQTTClient(config)


async def mqtt_as_heap(url):
    import asyncio

    got = []
    client = mqtt_as_client(url, lambda t, m, r, q: got.append(1))
    await client.connect()
    await asyncio.sleep_ms(50)
    after = heap_now()
    await client.subscribe(TOPIC, 1)
    for q in (0, 1):
        await client.publish(TOPIC, PAYLOAD, qos=q)
    for _ in range(500):
        if len(got) == 2:
            break
        await asyncio.sleep_ms(10)
    after_round = heap_now()
    await client.disconnect()
    out(base=BASE, after=after, after_round=after_round, received=len(got))


async def mqtt_as_alloc(url, op):
    import asyncio

    sleep0 = asyncio.sleep_ms
    arrivals = Arrivals()
    client = mqtt_as_client(url, arrivals.on_mqtt_as)
    await client.connect()
    pub = client.publish
    rng = range(N)
    if op in ("recv0", "recv1"):
        await client.subscribe(TOPIC, 1 if op == "recv1" else 0)
        a, b = await arrivals.measure()
    else:
        qos = 1 if op == "pub1" else 0
        for _ in range(WARMUP):
            await pub(TOPIC, PAYLOAD, False, qos)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        if op == "loop":
            for _ in rng:
                await sleep0(0)
        else:
            for _ in rng:
                await pub(TOPIC, PAYLOAD, False, qos)
        b = gc.mem_alloc()
    gc.enable()
    await client.disconnect()
    out(op=op, n=N, delta=b - a, per_op=(b - a) / N)


async def mqtt_as_session(url):
    import asyncio

    got = []
    client = mqtt_as_client(url, lambda t, m, r, q: got.append(1))
    await client.connect()
    await client.subscribe(TOPIC, 1)
    for q in (0, 1):
        await client.publish(TOPIC, PAYLOAD, qos=q)
    for _ in range(500):
        if len(got) == 2:
            break
        await asyncio.sleep_ms(10)
    await client.disconnect()
    out(ok=len(got) == 2, received=len(got))


# -- per-module heap -----------------------------------------------------------------------


def modules(pkg, names):
    import asyncio  # noqa: F401  (several modules import it: count it once, first)

    costs = []
    before = heap_now()
    costs.append(("asyncio", before - BASE))
    for name in names.split(","):
        __import__(pkg + "." + name)
        now = heap_now()
        costs.append((name, now - before))
        before = now
    out(base=BASE, modules=costs)


def main(argv):
    measure, lib, url = argv[0], argv[1], argv[2]
    arg = argv[3] if len(argv) > 3 else None
    if measure == "modules":
        modules(lib, url)
        return
    if lib == "none":  # the reference: this probe and asyncio, no MQTT
        import asyncio

        out(asyncio=asyncio.sleep_ms is not None, ok=True, base=BASE, after=heap_now(), after_round=heap_now())
        return
    if lib in ("mq5", "mq311"):
        import asyncio

        if measure == "heap":
            coro = mq_heap(lib, url)
        elif measure == "alloc":
            coro = mq_alloc(lib, url, arg)
        else:
            coro = mq_session(lib, url)
        asyncio.run(asyncio.wait_for(coro, 120))
    elif lib == "umqtt":
        if measure == "heap":
            umqtt_heap(url)
        elif measure == "alloc":
            umqtt_alloc(url, arg)
        else:
            umqtt_session(url)
    elif lib == "mqtt_as":
        import asyncio

        if measure == "heap":
            coro = mqtt_as_heap(url)
        elif measure == "alloc":
            coro = mqtt_as_alloc(url, arg)
        else:
            coro = mqtt_as_session(url)
        asyncio.run(asyncio.wait_for(coro, 120))
    else:
        raise SystemExit("unknown LIB " + lib)


t0 = time.ticks_ms()
main(sys.argv[1:])
