"""Enhanced authentication (MQTT 5.0 section 4.12) against a scripted broker that plays
the server side of SCRAM-SHA-256 itself: a successful exchange, a wrong password, a
forged server signature, re-authentication while messages flow, a custom
challenge/response authenticator, and the protocol errors a client must catch."""

import asyncio
import hashlib
from binascii import a2b_base64, b2a_base64

from fakebroker import WAIT, Events, Harness
from support import MICROPYTHON, SkipTest, araises, run

import mq
from mq.wire_packets import AUTH, CONNECT, DISCONNECT, PUBACK, PUBLISH, Ack, Auth, Connack, Disconnect, Message
from mq.wire_props import Properties

SCRAM = "SCRAM-SHA-256"

# -- the server side of SCRAM-SHA-256, independent of mq.auth_scram ------------------------
# CPython's hmac and hashlib.pbkdf2_hmac where they exist; elsewhere (MicroPython) a
# plain transcription of RFC 2104 and RFC 8018, checked against them on CPython.


def _xor(a, b):
    assert len(a) == len(b)
    return bytes(a[i] ^ b[i] for i in range(len(a)))


def _hmac_plain(key, msg):
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + b"\x00" * (64 - len(key))
    inner = hashlib.sha256(_xor(key, b"\x36" * 64) + msg).digest()
    return hashlib.sha256(_xor(key, b"\x5c" * 64) + inner).digest()


def _pbkdf2_plain(password, salt, iterations):
    u = _hmac_plain(password, salt + b"\x00\x00\x00\x01")
    out = u
    for _ in range(iterations - 1):
        u = _hmac_plain(password, u)
        out = _xor(out, u)
    return out


try:
    import hmac as _hmac_module

    def HMAC(key, msg):
        return _hmac_module.new(key, msg, hashlib.sha256).digest()

    def PBKDF2(password, salt, iterations):
        return hashlib.pbkdf2_hmac("sha256", password, salt, iterations)

except ImportError:
    HMAC = _hmac_plain
    PBKDF2 = _pbkdf2_plain


def b64(data):
    return b2a_base64(data)[:-1]


class ScramServer:
    """What a broker keeps for a user (StoredKey, ServerKey) and its half of the exchange."""

    def __init__(self, password=b"pencil", salt=b"NaCl-and-pepper!", iterations=4096):
        salted = PBKDF2(password, salt, iterations)
        self.stored_key = hashlib.sha256(HMAC(salted, b"Client Key")).digest()
        self.server_key = HMAC(salted, b"Server Key")
        self.salt = salt
        self.iterations = iterations
        self.exchanges = 0

    def first(self, client_first):
        assert client_first.startswith(b"n,,n=user,r="), client_first
        self.client_first_bare = client_first[3:]
        client_nonce = client_first[len(b"n,,n=user,r="):]
        self.exchanges += 1
        self.nonce = client_nonce + b"server-nonce-%d" % self.exchanges
        self.server_first = b"r=%s,s=%s,i=%d" % (self.nonce, b64(self.salt), self.iterations)
        return self.server_first

    def final(self, client_final):
        """(the client proved the password, server-final-message)"""
        without_proof, proof = client_final.split(b",p=")
        assert without_proof == b"c=biws,r=" + self.nonce, without_proof
        auth_message = self.client_first_bare + b"," + self.server_first + b"," + without_proof
        client_key = _xor(a2b_base64(proof), HMAC(self.stored_key, auth_message))
        ok = hashlib.sha256(client_key).digest() == self.stored_key
        return ok, b"v=" + b64(HMAC(self.server_key, auth_message))


def test_server_side_helpers_match_stdlib():
    if MICROPYTHON:
        raise SkipTest("no hmac module here: the plain versions are the ones in use")
    assert _hmac_plain(b"k" * 70, b"msg") == HMAC(b"k" * 70, b"msg")
    assert _pbkdf2_plain(b"pencil", b"salt", 50) == PBKDF2(b"pencil", b"salt", 50)


# -- helpers ------------------------------------------------------------------------------------


def _auth(code, data=None, method=SCRAM):
    return Auth(code, Properties(authentication_method=method, authentication_data=data))


async def _recv_auth(conn, code):
    p = await conn.recv()
    assert p.type == AUTH, p
    assert p.reason_code == code, p
    assert p.properties.authentication_method == SCRAM
    return p.properties.authentication_data


async def _scram_handshake(conn, server, connack_data=True, refuse=False):
    """Play the broker's side up to CONNACK; return the client's CONNECT. connack_data:
    True for the real server-final-message, else what to send instead (None: none)."""
    connect = await conn.recv()
    assert connect.type == CONNECT
    props = connect.properties
    assert props.authentication_method == SCRAM
    conn.send_packet(_auth(0x18, server.first(props.authentication_data)))
    ok, server_final = server.final(await _recv_auth(conn, 0x18))
    if refuse or not ok:
        conn.send_packet(Connack(False, 0x87, Properties(reason_string="bad user name or password")))
    else:
        data = server_final if connack_data is True else connack_data
        conn.send_packet(Connack(False, 0, Properties(authentication_method=SCRAM, authentication_data=data)))
    return connect


async def _scram_client(h, server, **opts):
    task = h.dial_task(authenticator=mq.ScramSHA256("user", "pencil"), **opts)
    conn = await h.fb.accept()
    await _scram_handshake(conn, server)
    client = await task
    h.clients.append(client)
    return client, conn


# -- SCRAM-SHA-256 -------------------------------------------------------------------------------


async def _scram_success():
    h = await Harness().start()
    try:
        server = ScramServer()
        client, conn = await _scram_client(h, server, subscriptions={"cmd/#": lambda c, m: None})
        assert client.is_connected
        # Only now the client sends anything but AUTH: the subscription, then a publish.
        p = await conn.recv()
        assert p.type == 8, p  # SUBSCRIBE
        tok = client.publish("a/b", b"x", qos=1)
        p = await conn.recv_type(PUBLISH)
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
    finally:
        await h.close()


def test_scram_exchange_connects():
    run(_scram_success())


async def _scram_bad_password():
    h = await Harness().start()
    try:
        server = ScramServer(password=b"not-pencil")
        task = h.dial_task(authenticator=mq.ScramSHA256("user", "pencil"), auto_reconnect=False)
        conn = await h.fb.accept()
        await _scram_handshake(conn, server)
        e = await araises(mq.NotAuthorized, task)
        assert e.reason_code == 0x87 and e.reason_string == "bad user name or password"
        assert await conn.closed_by_client() == []
    finally:
        await h.close()


def test_scram_wrong_password_refused_with_0x87():
    run(_scram_bad_password())


async def _scram_forged(connack_data):
    h = await Harness().start()
    try:
        server = ScramServer()
        task = h.dial_task(authenticator=mq.ScramSHA256("user", "pencil"), subscriptions={"cmd/#": lambda c, m: None})
        conn = await h.fb.accept()
        await _scram_handshake(conn, server, connack_data=connack_data)
        e = await araises(mq.NotAuthorized, task)
        assert "SCRAM-SHA-256" in str(e), e
        # Nothing but a DISCONNECT (0x80: 0x87 is a server's code) reaches an impostor.
        got = await conn.closed_by_client()
        assert [(p.type, p.reason_code) for p in got] == [(DISCONNECT, 0x80)], got
        return str(e)
    finally:
        await h.close()


def test_scram_forged_server_signature_refused():
    # A server that does not know the password cannot sign; one that pretends to is refused.
    assert "wrong server signature" in run(_scram_forged(b"v=" + b64(b"\x00" * 32)))


def test_scram_success_without_server_signature_refused():
    assert "without proving" in run(_scram_forged(None))


async def _scram_reauth():
    h = await Harness().start()
    try:
        server = ScramServer()
        received = []
        client, conn = await _scram_client(
            h, server, default_handler=lambda c, m: received.append(m.payload), auto_reconnect=False
        )
        reauth = asyncio.create_task(client.reauthenticate())
        client_first = await _recv_auth(conn, 0x19)
        assert client_first.startswith(b"n,,n=user,r=")
        # A second call while the first runs waits for it (no second AUTH 0x19).
        again = asyncio.create_task(client.reauthenticate())
        # Messages flow both ways during the exchange.
        conn.send_packet(Message("t/1", b"during", 1, False, False, 7))
        p = await conn.recv()
        assert p.type == PUBACK and p.packet_id == 7, p
        tok = client.publish("a/b", b"during", qos=1)
        p = await conn.recv()
        assert p.type == PUBLISH, p
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
        assert received == [b"during"]
        conn.send_packet(_auth(0x18, server.first(client_first)))
        ok, server_final = server.final(await _recv_auth(conn, 0x18))
        assert ok
        assert not reauth.done()
        conn.send_packet(_auth(0x00, server_final))
        await asyncio.wait_for(reauth, WAIT)
        await asyncio.wait_for(again, WAIT)
        assert client.is_connected
        # And again: a new exchange with a new nonce.
        reauth = asyncio.create_task(client.reauthenticate())
        client_first2 = await _recv_auth(conn, 0x19)
        assert client_first2 != client_first
        conn.send_packet(_auth(0x18, server.first(client_first2)))
        ok, server_final = server.final(await _recv_auth(conn, 0x18))
        conn.send_packet(_auth(0x00, server_final))
        await asyncio.wait_for(reauth, WAIT)
        assert server.exchanges == 3
    finally:
        await h.close()


def test_reauthenticate_while_publishing():
    run(_scram_reauth())


async def _scram_reauth_refused(server_says):
    h = await Harness().start()
    ev = Events()
    try:
        server = ScramServer()
        client, conn = await _scram_client(h, server, auto_reconnect=False, **ev.options())
        reauth = asyncio.create_task(client.reauthenticate())
        client_first = await _recv_auth(conn, 0x19)
        conn.send_packet(_auth(0x18, server.first(client_first)))
        await _recv_auth(conn, 0x18)
        if server_says == "disconnect":
            conn.send_packet(Disconnect(0x87, Properties(reason_string="credentials revoked")))
            e = await araises(mq.DisconnectError, reauth)
            assert e.reason_code == 0x87 and e.reason_string == "credentials revoked"
        else:
            conn.send_packet(_auth(0x00, b"v=" + b64(b"\x01" * 32)))
            e = await araises(mq.NotAuthorized, reauth)
            assert "wrong server signature" in str(e)
            got = await conn.closed_by_client()
            assert [(p.type, p.reason_code) for p in got] == [(DISCONNECT, 0x80)], got
        assert await ev.wait_lost() is e
        assert not client.is_connected
    finally:
        await h.close()


def test_reauthenticate_refused_by_server_disconnect():
    run(_scram_reauth_refused("disconnect"))


def test_reauthenticate_forged_signature_refused():
    run(_scram_reauth_refused("forged"))


async def _reauth_misuse():
    h = await Harness().start()
    try:
        client, _conn, _ = await h.dial()
        # No authenticator: nothing to re-authenticate with.
        await araises(ValueError, client.reauthenticate())
        # An unanswered re-authentication times out; the exchange stays open.
        server = ScramServer()
        client2, conn2 = await _scram_client(h, server)
        await araises(asyncio.TimeoutError, client2.reauthenticate(timeout=0.05))
        await _recv_auth(conn2, 0x19)
        await client2.disconnect()
        await araises(mq.ClientDisconnected, client2.reauthenticate())
    finally:
        await h.close()


def test_reauthenticate_misuse():
    run(_reauth_misuse())


# -- a custom challenge/response method --------------------------------------------------------


class EchoAuth(mq.Authenticator):
    """A toy method: the server sends challenges, the client answers with
    sha256(secret + challenge); the server's final word is recorded."""

    method = "X-ECHO"

    def __init__(self, secret):
        self.secret = secret
        self.calls = []

    def initial_data(self):
        self.calls.append("initial")
        return b"hello"

    def handle_challenge(self, data, reason_code):
        self.calls.append((data, reason_code))
        if data == b"boom":
            raise RuntimeError("cannot answer that")
        return hashlib.sha256(self.secret + data).digest() if reason_code else None

    def complete(self):
        self.calls.append("complete")


async def _custom():
    h = await Harness().start()
    try:
        auth = EchoAuth(b"s3cret")
        task = h.dial_task(authenticator=auth)
        conn = await h.fb.accept()
        connect = await conn.recv()
        assert connect.properties.authentication_method == "X-ECHO"
        assert connect.properties.authentication_data == b"hello"
        for challenge in (b"one", b"two"):  # two rounds before CONNACK
            conn.send_packet(_auth(0x18, challenge, "X-ECHO"))
            p = await conn.recv()
            assert p.type == AUTH and p.reason_code == 0x18
            assert p.properties.authentication_method == "X-ECHO"
            assert p.properties.authentication_data == hashlib.sha256(b"s3cret" + challenge).digest()
        conn.send_packet(Connack(False, 0, Properties(authentication_method="X-ECHO", authentication_data=b"welcome")))
        client = await task
        h.clients.append(client)
        assert auth.calls == ["initial", (b"one", 0x18), (b"two", 0x18), (b"welcome", 0x00), "complete"]
        # A challenge without data reaches the authenticator as b"".
        auth.calls = []
        reauth = asyncio.create_task(client.reauthenticate())
        p = await conn.recv()
        assert p.type == AUTH and p.reason_code == 0x19 and p.properties.authentication_data == b"hello"
        conn.send_packet(_auth(0x18, None, "X-ECHO"))
        p = await conn.recv()
        assert p.properties.authentication_data == hashlib.sha256(b"s3cret").digest()
        conn.send_packet(_auth(0x00, None, "X-ECHO"))
        await asyncio.wait_for(reauth, WAIT)
        assert auth.calls == ["initial", (b"", 0x18), "complete"]
    finally:
        await h.close()


def test_custom_challenge_response_authenticator():
    run(_custom())


async def _custom_fails():
    h = await Harness().start()
    try:
        task = h.dial_task(authenticator=EchoAuth(b"s"), auto_reconnect=False)
        conn = await h.fb.accept()
        await conn.recv()
        conn.send_packet(_auth(0x18, b"boom", "X-ECHO"))
        e = await araises(mq.NotAuthorized, task)
        assert "cannot answer that" in str(e)
        got = await conn.closed_by_client()
        assert [(p.type, p.reason_code) for p in got] == [(DISCONNECT, 0x80)], got
    finally:
        await h.close()


def test_authenticator_error_ends_the_connection_attempt():
    run(_custom_fails())


async def _server_refusals():
    h = await Harness().start()
    try:
        e = await h.refused(Connack(False, 0x8C), authenticator=EchoAuth(b"s"), auto_reconnect=False)
        assert type(e) is mq.ConnectionRefused and e.reason_code == 0x8C
        e = await h.refused(Connack(False, 0x87), authenticator=EchoAuth(b"s"), auto_reconnect=False)
        assert type(e) is mq.NotAuthorized
    finally:
        await h.close()


def test_server_refuses_the_method():
    run(_server_refusals())


async def _v311_ignores():
    h = await Harness().start()
    try:
        auth = EchoAuth(b"s")
        client, _conn, connect = await h.dial(protocol=mq.V311, authenticator=auth)
        assert connect.version == 4 and connect.properties is None
        assert client.is_connected and auth.calls == []
        await araises(ValueError, client.reauthenticate())
    finally:
        await h.close()


def test_v311_ignores_the_authenticator():
    run(_v311_ignores())


# -- protocol errors: DISCONNECT 0x82 ---------------------------------------------------------


async def _protocol_error(authenticator, before_connack, packet):
    h = await Harness().start()
    ev = Events()
    try:
        opts = {"auto_reconnect": False}
        if authenticator is not None:
            opts["authenticator"] = authenticator
        if before_connack:
            task = h.dial_task(**opts)
            conn = await h.fb.accept()
            await conn.recv()
            conn.send_packet(packet)
            e = await araises(mq.ProtocolError, task)
        else:
            _client, conn, _ = await h.dial(
                Connack(False, 0, Properties(authentication_method="X-ECHO")) if authenticator else None,
                **opts, **ev.options()
            )
            conn.send_packet(packet)
            e = await ev.wait_lost()
            assert type(e) is mq.ProtocolError, e
        assert e.reason_code == 0x82
        got = await conn.closed_by_client()
        assert [(p.type, p.reason_code) for p in got] == [(DISCONNECT, 0x82)], got
        return str(e)
    finally:
        await h.close()


def test_auth_without_authenticator_is_protocol_error():
    run(_protocol_error(None, True, _auth(0x18, b"x", "X-ECHO")))
    run(_protocol_error(None, False, _auth(0x18, b"x", "X-ECHO")))


def test_auth_outside_an_exchange_is_protocol_error():
    run(_protocol_error(EchoAuth(b"s"), False, _auth(0x18, b"x", "X-ECHO")))
    run(_protocol_error(EchoAuth(b"s"), False, _auth(0x00, None, "X-ECHO")))


def test_auth_with_another_method_is_protocol_error():
    assert "'OTHER'" in run(_protocol_error(EchoAuth(b"s"), True, _auth(0x18, b"x", "OTHER")))
    run(_protocol_error(EchoAuth(b"s"), True, Auth(0x18)))  # no method at all
    run(_protocol_error(EchoAuth(b"s"), True, Connack(False, 0, Properties(authentication_method="OTHER"))))


def test_auth_success_or_reauthenticate_before_connack_is_protocol_error():
    # The first exchange ends with CONNACK, and only a client may ask to re-authenticate.
    run(_protocol_error(EchoAuth(b"s"), True, _auth(0x00, None, "X-ECHO")))
    run(_protocol_error(EchoAuth(b"s"), True, _auth(0x19, None, "X-ECHO")))


# -- the reader stays while CONNECTING ----------------------------------------------------------


async def _split_connack():
    # An AUTH exchange keeps the connection in CONNECTING between reads; so does a CONNACK
    # that arrives in two pieces. The reader must go on reading in both cases.
    h = await Harness().start()
    try:
        task = h.dial_task()
        conn = await h.fb.accept()
        await conn.recv()
        conn.send(bytes((0x20, 0x03)))
        await conn.drain()
        # No event tells when the client has read the first half: a short pause makes two
        # TCP reads of it (were they one, the test would only check less, never wrongly).
        await asyncio.sleep(0.05)
        conn.send(bytes((0x00, 0x00, 0x00)))
        client = await asyncio.wait_for(task, WAIT)
        h.clients.append(client)
        assert client.is_connected
    finally:
        await h.close()


def test_connack_split_across_reads():
    run(_split_connack())
