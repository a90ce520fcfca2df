"""Brokers: a Mosquitto process (tests, benchmark, a dev box) and the embedded amqtt broker (demo).

`Mosquitto` writes its own mosquitto.conf into a folder, listens on loopback only, and keeps
sessions and queued QoS 1 messages on disk (persistence) so a restart loses nothing it held.
amqtt runs inside the `gridops serve` process so the demo needs nothing installed; FACTS.md
measured it leaking memory over many connects, so production runs Mosquitto.
"""

from __future__ import annotations

import asyncio
import getpass
import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port free on loopback now (the caller binds it right after: a small, accepted race)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = LOOPBACK) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout} s")


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)


@dataclass
class Mosquitto:
    """A private Mosquitto on 127.0.0.1:`port`, configured in `folder`; start/stop/restart keep its data."""

    folder: Path
    port: int = field(default_factory=free_port)
    password_file: Path | None = None
    acl_file: Path | None = None
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        lines = [
            f"listener {self.port} {LOOPBACK}",
            # Started as root, Mosquitto drops to user "mosquitto", which cannot read a private folder.
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {self.folder}/",
            "autosave_interval 1",
            "max_queued_messages 0",  # keep everything for an absent persistent session (no limit)
            "max_inflight_messages 0",
            "persistent_client_expiration 7d",
            f"log_dest file {self.folder / 'mosquitto.log'}",
            "log_type error", "log_type warning", "log_type notice",
            "connection_messages true",
        ]
        if self.password_file:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines += ["allow_anonymous true"]
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        return "\n".join(lines + self.extra) + "\n"

    def start(self) -> Mosquitto:
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "mosquitto.conf"
        conf.write_text(self.config(), encoding="utf-8")
        self.process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            stderr = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {stderr[-2000:]} {self.log()[-2000:]}") from None
        return self

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM saves the persistence file first; kill=True simulates a crash."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def restart(self, downtime: float = 0.0) -> None:
        self.stop()
        time.sleep(downtime)
        self.start()

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedBroker:
    """amqtt in a daemon thread with its own event loop: MQTT 3.1.1 on loopback, anonymous."""

    def __init__(self, host: str = LOOPBACK, port: int = 1883) -> None:
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)

    def _config(self) -> dict[str, object]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    def _run(self) -> None:
        from amqtt.broker import Broker

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._broker = Broker(self._config(), loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        self._thread.start()
        self._ready.wait(timeout)
        if self._error is not None:
            raise RuntimeError(f"embedded MQTT broker failed to start: {self._error}") from self._error
        return self  # listening once Broker.start() returned (a probe connection would log an error)

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
