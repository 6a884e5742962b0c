"""SCRAM-SHA-256 (mq.auth_scram) on its own: the HMAC and PBKDF2 it builds on hashlib
(RFC 4231 and RFC 7914 vectors, and CPython's hmac/hashlib where they exist), the RFC
7677 exchange, username escaping, and every way a server's messages are refused."""

from support import MICROPYTHON, SkipTest, raises, unhex

import mq
from mq.auth_scram import ScramSHA256, hmac_sha256, pbkdf2_sha256, saslname

# RFC 7677 section 3.
USER = "user"
PASSWORD = "pencil"
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


# -- the primitives ------------------------------------------------------------------------

# RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (5 truncates the output).
HMAC_VECTORS = (
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131,
     b"This is a test using a larger than block-size key and a larger than block-size data. "
     b"The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)


def test_hmac_sha256_rfc4231_vectors():
    for key, data, mac in HMAC_VECTORS:
        assert hmac_sha256(key, data) == unhex(mac), key


def test_pbkdf2_sha256_vectors():
    # RFC 7914 section 11 (the first 32 bytes of its 64), and the widely used
    # "password"/"salt" vectors for 1, 2 and 4096 iterations.
    assert pbkdf2_sha256(b"passwd", b"salt", 1) == unhex(
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
    assert pbkdf2_sha256(b"password", b"salt", 1) == unhex(
        "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
    assert pbkdf2_sha256(b"password", b"salt", 2) == unhex(
        "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43")
    assert pbkdf2_sha256(b"password", b"salt", 4096) == unhex(
        "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")


def test_primitives_match_cpython_stdlib():
    if MICROPYTHON:
        raise SkipTest("no hmac module, no hashlib.pbkdf2_hmac")
    import hashlib
    import hmac
    import os

    for n in (0, 1, 31, 32, 63, 64, 65, 100, 200):
        key = os.urandom(n)
        msg = os.urandom(n * 3)
        assert hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest(), n
        assert hmac_sha256(bytearray(key), memoryview(msg)) == hmac.new(key, msg, hashlib.sha256).digest()
    for n, iterations in ((6, 1), (20, 7), (64, 100), (65, 50), (130, 4096)):
        password = os.urandom(n)
        salt = os.urandom(16)
        assert pbkdf2_sha256(password, salt, iterations) == hashlib.pbkdf2_hmac("sha256", password, salt, iterations)


def test_pbkdf2_4096_iterations_is_quick():
    # The cost a device pays once per server salt; the report quotes this measurement.
    import time

    try:
        t0 = time.ticks_ms()  # type: ignore[attr-defined]
        pbkdf2_sha256(b"pencil", b"salt", 4096)
        ms = time.ticks_diff(time.ticks_ms(), t0)  # type: ignore[attr-defined]
    except AttributeError:
        t = time.perf_counter()
        pbkdf2_sha256(b"pencil", b"salt", 4096)
        ms = (time.perf_counter() - t) * 1000
    print("PBKDF2-HMAC-SHA256, 4096 iterations: %d ms" % ms)
    assert ms < 1000, ms


# -- the exchange ----------------------------------------------------------------------------


def _first_two(auth, server_first=SERVER_FIRST):
    auth.initial_data()
    return auth.handle_challenge(server_first, 0x18)


def test_rfc7677_exchange():
    auth = ScramSHA256(USER, PASSWORD, nonce=CLIENT_NONCE)
    assert auth.method == "SCRAM-SHA-256"
    assert auth.initial_data() == CLIENT_FIRST
    assert auth.handle_challenge(SERVER_FIRST, 0x18) == CLIENT_FINAL
    assert auth.handle_challenge(SERVER_FINAL, 0x00) is None
    auth.complete()
    # Bytes password, memoryview data: the same.
    auth = ScramSHA256(USER, b"pencil", nonce=CLIENT_NONCE.encode())
    auth.initial_data()
    assert auth.handle_challenge(memoryview(SERVER_FIRST), 0x18) == CLIENT_FINAL
    auth.handle_challenge(bytearray(SERVER_FINAL), 0x00)
    auth.complete()


def test_exported_from_mq():
    assert mq.ScramSHA256 is ScramSHA256
    assert issubclass(ScramSHA256, mq.Authenticator)


def test_salted_password_is_computed_once_per_salt():
    auth = ScramSHA256(USER, PASSWORD, nonce=CLIENT_NONCE)
    _first_two(auth)
    keys = auth._keys
    assert _first_two(auth) == CLIENT_FINAL
    assert auth._keys is keys  # a second exchange (re-authentication) skips PBKDF2
    other = SERVER_FIRST.replace(b"i=4096", b"i=4097")
    _first_two(auth, other)
    assert auth._keys is not keys and auth._keys[1] == 4097


def test_fresh_random_nonce_per_exchange():
    auth = ScramSHA256(USER, PASSWORD)
    a = auth.initial_data()
    b = auth.initial_data()
    assert a != b
    for first in (a, b):
        assert first.startswith(b"n,,n=user,r=")
        nonce = first[len(b"n,,n=user,r="):]
        assert len(nonce) >= 20 and b"," not in nonce
        assert all(0x21 <= c <= 0x7E for c in nonce)


def test_username_escaping():
    assert saslname("user") == b"user"
    assert saslname("a,b=c") == b"a=2Cb=3Dc"
    assert saslname("=,") == b"=3D=2C"
    assert saslname("\u00e9") == b"\xc3\xa9"  # UTF-8, no SASLprep
    raises(ValueError, saslname, "a\x00b")
    auth = ScramSHA256("x=y,z", "p", nonce="abc")
    assert auth.initial_data() == b"n,,n=x=3Dy=2Cz,r=abc"
    raises(ValueError, ScramSHA256, "u", "p", nonce="a,b")


def _refused(auth, data, code=0x18):
    e = raises(mq.NotAuthorized, auth.handle_challenge, data, code)
    assert e.reason_code == 0x87
    return str(e)


def test_wrong_server_signature_detected():
    auth = ScramSHA256(USER, PASSWORD, nonce=CLIENT_NONCE)
    _first_two(auth)
    forged = b"v=" + b"A" * 43 + b"="
    assert "wrong server signature" in _refused(auth, forged, 0)
    # Refused stays refused: complete() does not accept afterwards.
    raises(mq.NotAuthorized, auth.complete)
    # The signature of another password is just as wrong.
    auth = ScramSHA256(USER, "pencil2", nonce=CLIENT_NONCE)
    _first_two(auth)
    assert "wrong server signature" in _refused(auth, SERVER_FINAL, 0)


def test_server_must_prove_itself():
    auth = ScramSHA256(USER, PASSWORD, nonce=CLIENT_NONCE)
    _first_two(auth)
    e = raises(mq.NotAuthorized, auth.complete)  # success without server-final-message
    assert "without proving" in str(e)
    auth = ScramSHA256(USER, PASSWORD, nonce=CLIENT_NONCE)
    auth.initial_data()
    raises(mq.NotAuthorized, auth.complete)  # success before any exchange


def test_server_errors_and_malformed_messages_refused():
    auth = ScramSHA256(USER, PASSWORD, nonce=CLIENT_NONCE)
    auth.initial_data()
    assert "invalid-proof" in _refused(auth, b"e=invalid-proof")
    cases = (
        b"r=someoneelse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  # nonce not ours
        b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  # no server part
        b"m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  # mandatory extension
        b"r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",  # no salt
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=many",
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100000000",  # beyond max_iterations
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=,i=4096",
        b"",
    )
    for data in cases:
        auth.initial_data()
        _refused(auth, data)
    # A server-final-message that is an error, or garbage.
    for data in (b"e=other-error", b"x=1", b"v=###"):
        _first_two(auth)
        _refused(auth, data, 0)
    # Out of order: a final message before the first, a second challenge.
    auth.initial_data()
    _refused(auth, SERVER_FINAL, 0)
    _first_two(auth)
    _refused(auth, SERVER_FIRST)


def test_max_iterations_is_configurable():
    auth = ScramSHA256(USER, PASSWORD, nonce=CLIENT_NONCE, max_iterations=1000)
    auth.initial_data()
    assert "max_iterations=1000" in _refused(auth, SERVER_FIRST)
