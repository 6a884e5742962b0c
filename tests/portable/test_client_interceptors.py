"""Handler and publish interceptors (middleware) against a real Mosquitto, on CPython
and the MicroPython unix port: order (first in the list outermost), changing or
dropping messages and publishes, and nothing in between when there are none."""

import asyncio

from support import Inbox, control, raises, run

import mq

TIMEOUT = 10


def tracing(name, trace):
    """A handler interceptor that notes when a message goes in and comes back out."""

    def interceptor(next_handler):
        def handler(client, message):
            trace.append("%s>%s" % (name, message.topic))
            r = next_handler(client, message)
            trace.append("<" + name)
            return r

        return handler

    return interceptor


# -- handler interceptors ------------------------------------------------------------------


async def _handler_order():
    b = await control("broker")
    trace = []
    inbox = Inbox()
    fallback = Inbox()

    def handler(client, message):
        trace.append("handler")
        inbox(client, message)

    c = await mq.dial(
        b["url"], handler_interceptors=[tracing("A", trace), tracing("B", trace)], default_handler=fallback
    )
    try:
        await c.subscribe("hi/sub", 1, handler).wait(TIMEOUT)
        await c.subscribe("hi/none", 1).wait(TIMEOUT)  # no handler: the default one gets these
        await c.publish("hi/sub", b"1", qos=1).wait(TIMEOUT)
        await inbox.wait(1)
        assert trace == ["A>hi/sub", "B>hi/sub", "handler", "<B", "<A"]
        del trace[:]
        await c.publish("hi/none", b"2", qos=1).wait(TIMEOUT)
        (m,) = await fallback.wait(1)
        assert m.payload == b"2"
        assert trace == ["A>hi/none", "B>hi/none", "<B", "<A"]
    finally:
        await c.disconnect()


def test_handler_interceptors_chain_in_order_first_outermost():
    run(_handler_order())


async def _handler_modify_drop():
    b = await control("broker")
    inbox = Inbox()
    seen_by_coroutine = []

    def drop_secrets(next_handler):
        def handler(client, message):
            if message.payload.startswith(b"secret"):
                return None  # dropped: next is not called
            return next_handler(client, message)

        return handler

    def shout(next_handler):
        def handler(client, message):
            m = mq.Message(message.topic, message.payload.upper(), message.qos, message.retain, message.dup,
                           message.packet_id, message.properties)
            return next_handler(client, m)

        return handler

    def awaiting(next_handler):
        # A coroutine interceptor: awaits a coroutine handler's work, then notes it.
        async def handler(client, message):
            r = next_handler(client, message)
            if r is not None:
                await r
            seen_by_coroutine.append(message.payload)

        return handler

    async def slow_handler(client, message):
        await asyncio.sleep(0)
        inbox(client, message)

    c = await mq.dial(b["url"], handler_interceptors=[drop_secrets, awaiting, shout])
    try:
        await c.subscribe("mod/#", 1, slow_handler).wait(TIMEOUT)
        for payload in (b"one", b"secret two", b"three"):
            await c.publish("mod/x", payload, qos=1).wait(TIMEOUT)
        got = await inbox.wait(2)
        await c.publish("mod/end", b"end", qos=1).wait(TIMEOUT)
        got = await inbox.wait(3)
        assert [m.payload for m in got] == [b"ONE", b"THREE", b"END"]
        assert seen_by_coroutine == [b"one", b"three", b"end"]  # shout is inside awaiting
    finally:
        await c.disconnect()


def test_handler_interceptors_modify_and_drop_messages():
    run(_handler_modify_drop())


# -- publish interceptors --------------------------------------------------------------------


async def _publish_order():
    b = await control("broker")
    trace = []
    inbox = Inbox()

    def stamp(next_publish):
        def publish(topic, payload, **options):
            trace.append(("stamp", topic, options.get("qos", 0), options.get("retain", False)))
            options["user_properties"] = [("stamp", "1")]
            options["content_type"] = "text/plain"
            return next_publish("out/" + topic, payload, **options)

        return publish

    def shout(next_publish):
        def publish(topic, payload, **options):
            trace.append(("shout", topic, sorted(options)))
            return next_publish(topic, payload.upper(), **options)

        return publish

    c = await mq.dial(b["url"], publish_interceptors=[stamp, shout])
    try:
        await c.subscribe("out/#", 1, inbox).wait(TIMEOUT)
        # Positional qos and retain reach the interceptors as keywords.
        tok = c.publish("a", b"abc", 1, False)
        await tok.wait(TIMEOUT)
        assert isinstance(tok, mq.Token) and tok.error is None
        assert trace == [
            ("stamp", "a", 1, False),
            ("shout", "out/a", ["content_type", "qos", "retain", "user_properties"]),
        ]
        (m,) = await inbox.wait(1)
        assert m.topic == "out/a" and m.payload == b"ABC" and m.qos == 1
        assert m.properties.user_properties == [("stamp", "1")]
        assert m.properties.content_type == "text/plain"
        # Too many positional arguments, or one given twice, as for a plain call.
        raises(TypeError, c.publish, "a", b"", 1, False, False, None, "text/plain")
        raises(TypeError, c.publish, "a", b"", 1, qos=1)
    finally:
        await c.disconnect()


def test_publish_interceptors_chain_in_order_and_modify():
    run(_publish_order())


async def _publish_block():
    b = await control("broker")
    inbox = Inbox()

    def policy(next_publish):
        def publish(topic, payload, **options):
            if topic.startswith("blocked/"):
                return mq.DROPPED  # not sent; the caller's token says dropped
            if topic.startswith("forbidden/"):
                raise ValueError("not allowed: " + topic)
            return next_publish(topic, payload, **options)

        return publish

    c = await mq.dial(b["url"], publish_interceptors=[policy])
    try:
        await c.subscribe("#", 1, inbox).wait(TIMEOUT)
        tok = c.publish("blocked/x", b"no", qos=1)
        assert tok.done() and tok.dropped and tok.error is None
        await tok.wait(TIMEOUT)
        e = raises(ValueError, c.publish, "forbidden/y", b"no", qos=1)
        assert "forbidden/y" in str(e)
        await c.publish("ok/z", b"yes", qos=1).wait(TIMEOUT)
        # Published before ok/z on the same connection, blocked/x would have arrived first.
        (m,) = await inbox.wait(1)
        assert m.topic == "ok/z"
    finally:
        await c.disconnect()


def test_publish_interceptor_blocks_a_publish():
    run(_publish_block())


# -- none configured -----------------------------------------------------------------------


async def _none():
    b = await control("broker")
    inbox = Inbox()
    c = await mq.dial(b["url"])
    w = mq.Client(b["url"], publish_interceptors=[lambda nxt: nxt], handler_interceptors=[lambda nxt: nxt])
    try:
        # Without interceptors publish is the method itself and handlers are not wrapped.
        assert "publish" not in c.__dict__ and c._handler_chain is None
        assert "publish" in w.__dict__ and w._handler_chain is not None
        assert mq.Client(b["url"], publish_interceptors=[], handler_interceptors=[])._handler_chain is None
        await c.subscribe("plain", 1, inbox).wait(TIMEOUT)
        await c.publish("plain", b"p", 1).wait(TIMEOUT)
        (m,) = await inbox.wait(1)
        assert m.payload == b"p"
    finally:
        await c.disconnect()


def test_no_interceptors_is_the_original_path():
    run(_none())
