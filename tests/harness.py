"""The test harness: what a portable test cannot do itself on every runtime, done for it
by the CPython side over a small JSON-lines control socket on loopback.

A portable test (CPython or the MicroPython unix port) calls ``support.control(op, **args)``;
the harness runs ``op`` in a thread of the pytest process and answers with its result:

    broker(config=[], tls=False, persistence=False) -> {id, url, port, tls_url, tls_port}
    broker_stop / broker_start / broker_kill / broker_restart (id)   broker_log(id) -> text
    tls_files() -> {ca, ca_der, untrusted_ca, client_cert, client_key (+ _der variants)}
    proxy(port) -> {id, port, url}    proxy_stall / proxy_resume / proxy_drop (id)
    proxy_count(id) -> connections accepted so far
    paho_subscribe(url, topic, qos=0, version=5, client_id=None, persistent=False) -> id
    paho_messages(id, count, timeout=10, distinct=False) -> [{topic, payload(hex), qos, retain, properties}]
        (waits until count messages, or count different ones, have arrived, or timeout)
    paho_publish(url, topic, payload(hex), qos=0, retain=False, version=5, properties={})
    paho_close(id)    cleanup()    ping()
    tempdir() -> path    spawn(runtime, script, args) -> id    proc_line(id, text, timeout=10) -> line
    proc_kill(id)  (SIGKILL)    proc_output(id) -> what it printed so far

Everything a test started is released by ``cleanup`` (called by ``support.run`` after each
test that used the harness) and at the end of the session.
"""

from __future__ import annotations

import binascii
import json
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from brokers import Mosquitto

MQTT_V5 = 5


class Proxy:
    """A TCP forwarder to 127.0.0.1:target that can stall (stop forwarding, keep the
    connections open: a dead Wi-Fi link) and drop (close every connection)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.accepted += 1
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._closed:
                self._flowing.wait()
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for s in ready:
                    if not self._flowing.is_set():
                        break  # stalled after select: the data waits in the kernel
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                s.close()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def drop(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self.listener.close()
        self.drop()


class PahoClient:
    """paho-mqtt 2.x as the independent peer: a subscriber that records what arrives."""

    def __init__(self, url: str, version: int, client_id: str | None, persistent: bool = False) -> None:
        import paho.mqtt.client as paho

        self.paho = paho
        proto = paho.MQTTv5 if version == MQTT_V5 else paho.MQTTv311
        kwargs: dict[str, Any] = {"protocol": proto, "client_id": client_id or ""}
        if version != MQTT_V5:
            kwargs["clean_session"] = not persistent
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, **kwargs)
        self.client.reconnect_delay_set(1, 2)
        self.version = version
        self.messages: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.client.on_message = self._on_message
        host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
        self.connected = threading.Event()
        self.client.on_connect = lambda *a: self.connected.set()
        connect_args: dict[str, Any] = {}
        if version == MQTT_V5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            connect_args["clean_start"] = not persistent
            if persistent:
                connect_args["properties"] = Properties(PacketTypes.CONNECT)
                connect_args["properties"].SessionExpiryInterval = 3600
        self.client.connect(host, int(port), keepalive=30, **connect_args)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("paho did not connect to %s" % url)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        props: dict[str, Any] = {}
        if self.version == MQTT_V5 and msg.properties is not None:
            p = msg.properties
            for name in ("ContentType", "ResponseTopic", "MessageExpiryInterval", "PayloadFormatIndicator"):
                if hasattr(p, name):
                    props[name] = getattr(p, name)
            if hasattr(p, "CorrelationData"):
                props["CorrelationData"] = binascii.hexlify(p.CorrelationData).decode()
            if hasattr(p, "UserProperty"):
                props["UserProperty"] = [list(kv) for kv in p.UserProperty]
        with self.cond:
            self.messages.append(
                {
                    "topic": msg.topic,
                    "payload": binascii.hexlify(msg.payload).decode(),
                    "qos": msg.qos,
                    "retain": bool(msg.retain),
                    "properties": props,
                }
            )
            self.cond.notify_all()

    def subscribe(self, topic: str, qos: int) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos)
        if not done.wait(10):
            raise RuntimeError("paho: no SUBACK for %s" % topic)

    def wait_messages(self, count: int, timeout: float, distinct: bool) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout

        def have() -> int:
            if distinct:
                return len({(m["topic"], m["payload"]) for m in self.messages})
            return len(self.messages)

        with self.cond:
            while have() < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.messages)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, properties: dict[str, Any]) -> None:
        props = None
        if self.version == MQTT_V5 and properties:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.PUBLISH)
            for k, v in properties.items():
                if k == "UserProperty":
                    setattr(props, k, [tuple(kv) for kv in v])
                elif k == "CorrelationData":
                    setattr(props, k, binascii.unhexlify(v))
                else:
                    setattr(props, k, v)
        info = self.client.publish(topic, payload, qos, retain, properties=props)
        info.wait_for_publish(10)
        if not info.is_published():
            raise RuntimeError("paho: publish to %s not acknowledged" % topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


ROOT = Path(__file__).resolve().parent.parent


class Process:
    """A test program on either runtime; its output is collected line by line."""

    def __init__(self, runtime: str, script: str, args: list[str]) -> None:
        if runtime == "micropython":
            exe = str(Path(sys.executable).parent / "micropython")
            if not Path(exe).exists():
                exe = shutil.which("micropython") or "micropython"
        else:
            exe = sys.executable
        path = ROOT / "tests" / "portable" / script
        self.proc = subprocess.Popen(
            [exe, str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, text=True
        )
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append("<exit %s>" % self.proc.wait())
            self.cond.notify_all()

    def wait_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                    if line.startswith("<exit"):
                        raise RuntimeError("process ended before printing %r:\n%s" % (text, "\n".join(self.lines)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no %r within %s s:\n%s" % (text, timeout, "\n".join(self.lines)))
                self.cond.wait(left)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Harness:
    """The operations; one instance per pytest session."""

    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}
        self._next = 1
        self._lock = threading.Lock()
        self._tls: dict[str, str] | None = None
        self._tls_dir = Path(tempfile.mkdtemp(prefix="mq-tls-"))

    def _add(self, obj: Any) -> int:
        with self._lock:
            n = self._next
            self._next += 1
            self._objects[n] = obj
            return n

    def _get(self, oid: int, kind: type) -> Any:
        obj = self._objects.get(oid)
        if not isinstance(obj, kind):
            raise KeyError("no %s with id %r" % (kind.__name__, oid))
        return obj

    # -- brokers ---------------------------------------------------------------

    def op_broker(
        self, config: list[str] | None = None, tls: bool = False, persistence: bool = False
    ) -> dict[str, Any]:
        tls_opts = None
        if tls:
            files = self.op_tls_files()
            tls_opts = {"cafile": files["ca"], "certfile": files["server_cert"], "keyfile": files["server_key"]}
            tls_opts["require_certificate"] = False
        b = Mosquitto(config or [], tls=tls_opts, persistence=persistence).start()
        bid = self._add(b)
        out: dict[str, Any] = {"id": bid, "url": b.url, "port": b.port}
        if b.tls_port is not None:
            out["tls_port"] = b.tls_port
            out["tls_url"] = "mqtts://127.0.0.1:%d" % b.tls_port
        return out

    def op_mtls_broker(self, config: list[str] | None = None) -> dict[str, Any]:
        """A broker whose TLS listener requires a client certificate from our CA."""
        files = self.op_tls_files()
        opts = {
            "cafile": files["ca"],
            "certfile": files["server_cert"],
            "keyfile": files["server_key"],
            "require_certificate": True,
        }
        b = Mosquitto(config or [], tls=opts).start()
        return {"id": self._add(b), "url": b.url, "port": b.port, "tls_port": b.tls_port,
                "tls_url": "mqtts://127.0.0.1:%d" % b.tls_port}

    def op_broker_stop(self, id: int) -> None:
        self._get(id, Mosquitto).stop()

    def op_broker_start(self, id: int) -> None:
        self._get(id, Mosquitto).start()

    def op_broker_kill(self, id: int) -> None:
        self._get(id, Mosquitto).kill()

    def op_broker_restart(self, id: int) -> None:
        self._get(id, Mosquitto).restart()

    def op_broker_log(self, id: int) -> str:
        log: str = self._get(id, Mosquitto).log()
        return log

    # -- TLS material --------------------------------------------------------------

    def op_tls_files(self) -> dict[str, str]:
        with self._lock:
            if self._tls is None:
                self._tls = self._make_tls()
            return self._tls

    def _make_tls(self) -> dict[str, str]:
        import trustme
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509 import load_pem_x509_certificate

        d = self._tls_dir
        ca = trustme.CA()
        untrusted = trustme.CA()
        server = ca.issue_cert("localhost", "127.0.0.1")
        client = ca.issue_cert("mq-test-client")
        out: dict[str, str] = {}

        def write(name: str, data: bytes) -> None:
            (d / name).write_bytes(data)
            out[name.replace(".", "_")] = str(d / name)

        write("ca.pem", ca.cert_pem.bytes())
        write("untrusted_ca.pem", untrusted.cert_pem.bytes())
        write("server_cert.pem", b"".join(b.bytes() for b in server.cert_chain_pems))
        write("server_key.pem", server.private_key_pem.bytes())
        write("client_cert.pem", b"".join(b.bytes() for b in client.cert_chain_pems))
        write("client_key.pem", client.private_key_pem.bytes())
        der = serialization.Encoding.DER
        for name in ("ca", "untrusted_ca", "client_cert"):
            cert = load_pem_x509_certificate((d / (name + ".pem")).read_bytes())
            write(name + ".der", cert.public_bytes(der))
        key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
        write(
            "client_key.der",
            key.private_bytes(der, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()),
        )
        # Short names for the PEM files.
        for name in ("ca", "untrusted_ca", "server_cert", "server_key", "client_cert", "client_key"):
            out[name] = out.pop(name + "_pem")
        return out

    # -- proxies -------------------------------------------------------------------

    def op_proxy(self, port: int) -> dict[str, Any]:
        p = Proxy(port)
        return {"id": self._add(p), "port": p.port, "url": "mqtt://127.0.0.1:%d" % p.port}

    def op_proxy_stall(self, id: int) -> None:
        self._get(id, Proxy).stall()

    def op_proxy_resume(self, id: int) -> None:
        self._get(id, Proxy).resume()

    def op_proxy_drop(self, id: int) -> None:
        self._get(id, Proxy).drop()

    def op_proxy_count(self, id: int) -> int:
        n: int = self._get(id, Proxy).accepted
        return n

    # -- paho-mqtt -----------------------------------------------------------------

    def op_paho_subscribe(
        self,
        url: str,
        topic: str,
        qos: int = 0,
        version: int = MQTT_V5,
        client_id: str | None = None,
        persistent: bool = False,
    ) -> int:
        c = PahoClient(url, version, client_id, persistent)
        c.subscribe(topic, qos)
        return self._add(c)

    def op_paho_messages(
        self, id: int, count: int, timeout: float = 10, distinct: bool = False
    ) -> list[dict[str, Any]]:
        msgs: list[dict[str, Any]] = self._get(id, PahoClient).wait_messages(count, timeout, distinct)
        return msgs

    def op_paho_publish(
        self,
        url: str,
        topic: str,
        payload: str = "",
        qos: int = 0,
        retain: bool = False,
        version: int = MQTT_V5,
        properties: dict[str, Any] | None = None,
    ) -> None:
        c = PahoClient(url, version, None)
        try:
            c.publish(topic, binascii.unhexlify(payload), qos, retain, properties or {})
        finally:
            c.close()

    def op_paho_close(self, id: int) -> None:
        with self._lock:
            c = self._objects.pop(id)
        c.close()

    # -- processes -----------------------------------------------------------------

    def op_tempdir(self) -> str:
        d = tempfile.mkdtemp(prefix="mq-test-")
        self._add(_TempDir(d))
        return d

    def op_spawn(self, runtime: str, script: str, args: list[str] | None = None) -> int:
        return self._add(Process(runtime, script, [str(a) for a in args or []]))

    def op_proc_line(self, id: int, text: str, timeout: float = 10) -> str:
        line: str = self._get(id, Process).wait_line(text, timeout)
        return line

    def op_proc_kill(self, id: int) -> None:
        self._get(id, Process).close()

    def op_proc_output(self, id: int) -> str:
        p = self._get(id, Process)
        with p.cond:
            return "\n".join(p.lines)

    # -- housekeeping --------------------------------------------------------------

    def op_ping(self) -> str:
        return "pong"

    def op_cleanup(self) -> None:
        with self._lock:
            objects, self._objects = self._objects, {}
        for obj in objects.values():
            try:
                obj.close()
            except Exception:
                pass

    def call(self, op: str, args: dict[str, Any]) -> Any:
        fn: Callable[..., Any] | None = getattr(self, "op_" + op, None)
        if fn is None:
            raise ValueError("unknown harness operation %r" % op)
        return fn(**args)


class _TempDir:
    def __init__(self, path: str) -> None:
        self.path = path

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class ControlServer(socketserver.ThreadingTCPServer):
    """JSON lines on 127.0.0.1: one request and one reply per connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port: int = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.harness.op_cleanup()
        shutil.rmtree(self.harness._tls_dir, ignore_errors=True)


class _Handler(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        line = self.rfile.readline()
        try:
            req = json.loads(line)
            reply = {"ok": self.server.harness.call(req["op"], req.get("args") or {})}
        except Exception as e:
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        self.wfile.write((json.dumps(reply) + "\n").encode())
