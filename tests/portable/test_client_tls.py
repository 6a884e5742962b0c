"""TLS against a real Mosquitto, on both runtimes: certificates are verified by default,
an untrusted CA or a wrong host name fails with a clear error, verify=False is an explicit
opt-out, and a client certificate (mutual TLS) works.

The CA, the server certificate (for "localhost" and 127.0.0.1) and a client certificate
are made by the test harness for this session (tests/harness.py, op tls_files)."""

import asyncio

from support import MICROPYTHON, control, hexlify, raises, run

import mq

T = 5  # seconds: every wait in this module is bounded by this


def _opts(**kw):
    o = {"connect_timeout": T, "auto_reconnect": False}
    o.update(kw)
    return o


async def _dial_fails(url, **kw):
    """dial must raise; return the exception (the test asserts its message)."""
    try:
        c = await mq.dial(url, **_opts(**kw))
    except Exception as e:  # whatever it is: the test asserts its type and message
        return e
    await c.disconnect()
    raise AssertionError("dial(%s) connected; it must have been refused" % url)


def _says(e, *words):
    """The error's text names the cause: one of words appears in it (case-insensitive)."""
    text = ("%s %r" % (e, e)).lower()
    for w in words:
        if w.lower() in text:
            return
    raise AssertionError("unclear TLS error %r: expected it to mention one of %r" % (e, words))


def _verify_failed(e):
    # CPython: ssl.SSLCertVerificationError; MicroPython: mq's OSError around mbedTLS's text.
    assert isinstance(e, OSError), repr(e)
    _says(e, "certificate verify failed")


async def _no_client_connected(broker):
    """No MQTT session was made on this broker: nothing got past the TLS handshake."""
    log = await control("broker_log", id=broker["id"])
    assert "New client connected" not in log, log


async def _roundtrip_to_paho(broker, client, topic, payload):
    """client publishes at QoS 1 over TLS; paho on the plain port must receive it."""
    pid = await control("paho_subscribe", url=broker["url"], topic=topic, qos=1)
    await client.publish(topic, payload, qos=1).wait(T)
    msgs = await control("paho_messages", id=pid, count=1, timeout=T)
    assert [(m["topic"], m["payload"], m["qos"]) for m in msgs] == [(topic, hexlify(payload), 1)], msgs


# -- 1. a context with the test CA: publish and subscribe over TLS ---------------------


def test_tls_with_ca_publish_and_subscribe():
    async def main():
        b = await control("broker", tls=True)
        files = await control("tls_files")
        c = await mq.dial(b["tls_url"], **_opts(ssl=mq.tls_context(cafile=files["ca"])))
        try:
            assert c.is_connected
            await _roundtrip_to_paho(b, c, "tls/out", b"over tls")

            got = []
            arrived = asyncio.Event()

            def on_message(client, msg):
                got.append((msg.topic, bytes(msg.payload), msg.qos))
                arrived.set()

            await c.subscribe("tls/in", qos=1, handler=on_message).wait(T)
            await control("paho_publish", url=b["url"], topic="tls/in", payload=hexlify(b"to tls"), qos=1)
            await asyncio.wait_for(arrived.wait(), T)
            assert got == [("tls/in", b"to tls", 1)], got
        finally:
            await c.disconnect()
        log = await control("broker_log", id=b["id"])
        assert "New client connected" in log  # what _no_client_connected looks for

    run(main())


def test_tls_with_der_ca():
    # tls_context takes DER files as well as PEM on both runtimes.
    async def main():
        b = await control("broker", tls=True)
        files = await control("tls_files")
        c = await mq.dial(b["tls_url"], **_opts(ssl=mq.tls_context(cafile=files["ca_der"])))
        try:
            await _roundtrip_to_paho(b, c, "tls/der", b"der ca")
        finally:
            await c.disconnect()

    run(main())


# -- 2. verified by default ----------------------------------------------------------------


def test_tls_verified_by_default():
    # No ssl= option on an mqtts:// URL (and ssl=True) must not accept a certificate
    # from a CA nobody trusts: CPython checks it against the system CA store (which does
    # not know the test CA); MicroPython has no CA store, so it refuses to go unverified.
    async def main():
        b = await control("broker", tls=True)
        for kw in ({}, {"ssl": True}):
            e = await _dial_fails(b["tls_url"], **kw)
            if MICROPYTHON:
                _says(e, "tls_context(cafile=")
            else:
                _verify_failed(e)
        # A plain URL with ssl=True is TLS too, and verified the same way.
        e = await _dial_fails("mqtt://127.0.0.1:%d" % b["tls_port"], ssl=True)
        if MICROPYTHON:
            _says(e, "tls_context(cafile=")
        else:
            _verify_failed(e)
        await _no_client_connected(b)

    run(main())


# -- 3. untrusted CA ---------------------------------------------------------------------------


def test_tls_untrusted_ca_fails():
    async def main():
        b = await control("broker", tls=True)
        files = await control("tls_files")
        e = await _dial_fails(b["tls_url"], ssl=mq.tls_context(cafile=files["untrusted_ca"]))
        _verify_failed(e)
        await _no_client_connected(b)

    run(main())


# -- 4. wrong host name ----------------------------------------------------------------------


def test_tls_wrong_host_name_fails():
    # A listener whose certificate is valid and signed by the trusted CA, but for another
    # name: the harness's client certificate ("mq-test-client") serves as the server's.
    # The config lines go right after the plain listener line, turning that listener
    # into this TLS one. Dialing 127.0.0.1 must fail on the name alone.
    async def main():
        files = await control("tls_files")
        b = await control(
            "broker",
            config=["cafile " + files["ca"], "certfile " + files["client_cert"], "keyfile " + files["client_key"]],
        )
        for host in ("127.0.0.1", "localhost"):  # an address, then a DNS name
            url = "mqtts://%s:%d" % (host, b["port"])
            e = await _dial_fails(url, ssl=mq.tls_context(cafile=files["ca"]))
            _verify_failed(e)
            # CPython: "IP address mismatch" / "Hostname mismatch"; mbedTLS: "... (CN) does not match ...".
            _says(e, "mismatch", "does not match")
        await _no_client_connected(b)
        # The same listener without verification connects: only the name was wrong.
        c = await mq.dial(url, **_opts(ssl=mq.tls_context(verify=False)))
        await c.disconnect()

    run(main())


# -- 5. explicit opt-out -------------------------------------------------------------------------


def test_tls_verify_false_connects_to_self_made_certificate():
    async def main():
        b = await control("broker", tls=True)
        c = await mq.dial(b["tls_url"], **_opts(ssl=mq.tls_context(verify=False)))
        try:
            assert c.is_connected
            await _roundtrip_to_paho(b, c, "tls/noverify", b"unverified")
        finally:
            await c.disconnect()

    run(main())


# -- 6. mutual TLS -------------------------------------------------------------------------------


def test_mtls_client_certificate_connects():
    async def main():
        b = await control("mtls_broker")
        files = await control("tls_files")
        ctx = mq.tls_context(cafile=files["ca"], certfile=files["client_cert"], keyfile=files["client_key"])
        c = await mq.dial(b["tls_url"], **_opts(ssl=ctx))
        try:
            assert c.is_connected
            await _roundtrip_to_paho(b, c, "tls/mtls", b"with client cert")
        finally:
            await c.disconnect()

    run(main())


def test_mtls_client_certificate_der_files():
    # DER works on MicroPython (mbedTLS reads only DER; mq converts PEM for it). CPython's
    # ssl loads a client certificate and key from PEM files only: tls_context says so.
    async def main():
        b = await control("mtls_broker")
        files = await control("tls_files")
        der = {"cafile": files["ca_der"], "certfile": files["client_cert_der"], "keyfile": files["client_key_der"]}
        if not MICROPYTHON:
            e = raises(ValueError, mq.tls_context, **der)
            _says(e, "PEM")
            return
        c = await mq.dial(b["tls_url"], **_opts(ssl=mq.tls_context(**der)))
        try:
            await _roundtrip_to_paho(b, c, "tls/mtls-der", b"der client cert")
        finally:
            await c.disconnect()

    run(main())


def test_mtls_without_client_certificate_fails():
    async def main():
        b = await control("mtls_broker")
        files = await control("tls_files")
        e = await _dial_fails(b["tls_url"], ssl=mq.tls_context(cafile=files["ca"]))
        # The server verifies after our side of the handshake is done and just drops the
        # connection (its alert is usually lost to the reset): mq's error names the likely cause.
        assert isinstance(e, OSError), repr(e)
        _says(e, "client certificate", "certificate required")
        await _no_client_connected(b)
        log = await control("broker_log", id=b["id"])
        assert "did not return a certificate" in log, log  # the broker's reason: no client certificate

    run(main())
