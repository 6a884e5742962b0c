"""A real Mosquitto for the CPython tests: own config, free loopback port, always cleaned up.

    from brokers import Mosquitto

    with Mosquitto(["max_inflight_messages 0"]) as broker:
        ...connect to broker.host, broker.port...

Each instance writes its mosquitto.conf, log and persistence files into a fresh temporary
directory. ``start`` returns once the port accepts TCP connections and raises with the
tail of the log if Mosquitto dies or never listens. Brokers still running when the
interpreter exits are killed (atexit), so a failing test leaves no stray process.

This module does not import pytest; a test file makes its fixture from ``running``:

    @pytest.fixture
    def mosquitto():
        yield from running()
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
_POLL = 0.02  # how long to wait on the process between two connect() attempts

_OPEN: set[Mosquitto] = set()  # not closed yet: killed and deleted at exit


def mosquitto_binary() -> str | None:
    """The mosquitto executable, or None if it is not installed."""
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    return found if os.access(found, os.X_OK) else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on host a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BrokerError(RuntimeError):
    """Mosquitto did not start, or died."""


class Mosquitto:
    """One Mosquitto process on 127.0.0.1 with a config written for it.

    config_lines are added after the plain listener line, so listener options such as
    ``max_connections`` apply to it and global ones (``max_inflight_messages``,
    ``max_topic_alias``...) apply everywhere. ``tls`` adds a second listener on
    ``tls_port``: a dict of mosquitto listener options, e.g. ``dict(cafile=...,
    certfile=..., keyfile=..., require_certificate=True)``; booleans become true/false.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        config_lines: Iterable[str] = (),
        tls: dict[str, Any] | None = None,
        persistence: bool = False,
        port: int | None = None,
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto is not installed")
        self.binary = binary
        self.config_lines = list(config_lines)
        self.tls = dict(tls) if tls is not None else None
        self.persistence = persistence
        self.port = port if port is not None else free_port(self.host)
        self.tls_port: int | None = None
        if self.tls is not None:
            for key in ("cafile", "certfile", "keyfile"):
                if key not in self.tls:
                    raise ValueError("tls needs %s" % key)
            self.tls_port = free_port(self.host)
        self.dir = Path(tempfile.mkdtemp(prefix="mq-mosquitto-"))
        self.conf_path = self.dir / "mosquitto.conf"
        self.log_path = self.dir / "mosquitto.log"
        self.output_path = self.dir / "output.log"  # stdout/stderr: errors before the log opens
        self._proc: subprocess.Popen[bytes] | None = None
        self._final_log = ""
        self._closed = False
        _OPEN.add(self)
        self._write_config()

    # -- configuration -------------------------------------------------------------

    def _write_config(self) -> None:
        lines = [
            "# written by tests/brokers.py",
            "log_dest file %s" % self.log_path,
            "log_type all",
            "log_timestamp true",
            "allow_anonymous true",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Started as root, Mosquitto would drop to its own user, which cannot read
            # the files this test created.
            lines.append("user root")
        if self.persistence:
            lines += ["persistence true", "persistence_location %s/" % self.dir]
        lines.append("listener %d %s" % (self.port, self.host))
        lines += self.config_lines
        if self.tls is not None and self.tls_port is not None:
            lines.append("listener %d %s" % (self.tls_port, self.host))
            lines += ["%s %s" % (k, _conf_value(v)) for k, v in self.tls.items()]
        self.conf_path.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return "mqtt://%s:%d" % (self.host, self.port)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- life cycle ----------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> Mosquitto:
        """Launch Mosquitto and return once every listener accepts connections."""
        if self._closed:
            raise BrokerError("this broker has been closed")
        if self.running:
            raise BrokerError("already running")
        with open(self.output_path, "ab") as out:
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
            )
        try:
            ports = [self.port] + ([self.tls_port] if self.tls_port is not None else [])
            deadline = time.monotonic() + timeout
            for port in ports:
                self._wait_listening(port, deadline)
        except BaseException:
            self._terminate(signal.SIGKILL)
            raise
        return self

    def _wait_listening(self, port: int, deadline: float) -> None:
        proc = self._proc
        assert proc is not None
        while True:
            if proc.poll() is not None:
                raise BrokerError(
                    "mosquitto exited with code %d before listening on port %d\n%s"
                    % (proc.returncode, port, self.log_tail())
                )
            try:
                with socket.create_connection((self.host, port), timeout=0.2):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BrokerError("mosquitto did not listen on port %d\n%s" % (port, self.log_tail()))
            # Wait on the process itself, so that a dying broker is noticed at once.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=_POLL)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM and wait (Mosquitto saves its persistence file); SIGKILL if it hangs."""
        self._terminate(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL and wait: a crash, nothing saved."""
        self._terminate(signal.SIGKILL)

    def restart(self, timeout: float = START_TIMEOUT) -> Mosquitto:
        """stop then start, on the same port(s), with the same persistence directory."""
        self.stop()
        return self.start(timeout)

    def _terminate(self, sig: int, timeout: float = STOP_TIMEOUT) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            self._proc = None

    def close(self) -> None:
        """Stop the broker and delete its directory; log() still answers afterwards."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._final_log = self.log()
            self._closed = True
            _OPEN.discard(self)
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- logs ----------------------------------------------------------------------

    def log(self) -> str:
        """What Mosquitto logged, and anything it printed before its log file opened."""
        if self._closed:
            return self._final_log
        parts = []
        for path in (self.output_path, self.log_path):
            with contextlib.suppress(FileNotFoundError):
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # -- context manager -----------------------------------------------------------

    def __enter__(self) -> Mosquitto:
        if not self.running:
            try:
                self.start()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Mosquitto(%s, pid=%s)" % (self.url, self.pid)


def running(
    config_lines: Iterable[str] = (),
    tls: dict[str, Any] | None = None,
    persistence: bool = False,
    port: int | None = None,
) -> Iterator[Mosquitto]:
    """A started broker, stopped and cleaned up afterwards: the body of a pytest fixture
    (``yield from running()``)."""
    with Mosquitto(config_lines, tls=tls, persistence=persistence, port=port) as broker:
        yield broker


@atexit.register
def _kill_all() -> None:
    for broker in list(_OPEN):
        with contextlib.suppress(Exception):
            broker.kill()
        shutil.rmtree(broker.dir, ignore_errors=True)
