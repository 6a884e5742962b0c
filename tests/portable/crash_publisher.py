"""A publisher for the crash tests, run as its own process on either runtime:

    crash_publisher.py URL STORE_KIND STORE_DIR first|second COUNT

"first" connects, waits until the broker goes away, publishes COUNT messages at QoS 1
and COUNT at QoS 2 (they only reach the store), prints "published" and waits to be
killed. "second" starts from the same store and prints "connected" with the session
flag; the stored messages go out by themselves.
"""

import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here)
sys.path.insert(0, _here + "/../..")

import asyncio  # noqa: E402

import mq  # noqa: E402


def make_store(kind, path):
    if kind == "flash":
        return mq.FlashStore(path + "/session.log", "crash-pub")
    return mq.FileStore(path, "crash-pub")


async def main(url, kind, path, mode, count):
    lost = asyncio.Event()
    client = await mq.dial(
        url, client_id="crash-pub", clean_start=False, session_expiry=3600, store=make_store(kind, path),
        on_connection_lost=lambda c, e: lost.set(), reconnect_delay=0.05, reconnect_max_delay=0.5,
    )
    print("connected session_present=%d" % client.session_present)
    if mode == "first":
        await lost.wait()
        for i in range(count):
            client.publish("crash/q1", b"q1-%d" % i, qos=1)
            client.publish("crash/q2", b"q2-%d" % i, qos=2)
        print("published")
    await asyncio.Event().wait()


a = sys.argv[1:]
asyncio.run(main(a[0], a[1], a[2], a[3], int(a[4])))
