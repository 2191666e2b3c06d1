"""Fixtures for the fleet output tests: real nats-server processes on free
loopback ports with their own store directories, and procmon runs that
publish to them.

Every server a test starts is stopped when the test ends, whatever
happened (a finalizer), and the session checks that none is left.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import helpers  # noqa: E402
from helpers import Procmon  # noqa: E402
import natsproto  # noqa: E402

REPO = helpers.REPO
TAIL = REPO / "build" / "procmon-tail"
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
# This session's: other sessions on the host run servers of their own.
TMP_TAG = f"procmon-fleet-{os.getpid()}-"
DELIVERY_TIMEOUT = 40


def pytest_collection_modifyitems(config, items):
    helpers.skip_all_unless_runnable(items, "fleet", needs=(str(NATS_SERVER),))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what):
    """A condition on the outside world (a server's state), every 50 ms."""
    return helpers.wait_until(pred, what, timeout, interval=0.05)


class NatsServer:
    def __init__(self, base, name, port=None, args=(), conf=None):
        self.base = Path(base)
        self.name = name
        self.port = port or free_port()
        self.store = self.base / f"store-{name}"
        self.args = list(args)
        self.conf = conf
        self.proc = None
        self.log = self.base / f"{name}.log"

    def start(self, wait=True):
        cmd = [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
               "-sd", str(self.store), "-n", self.name, *self.args]
        if self.conf:
            cmd += ["-c", str(self.conf)]
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout=15):
        def up():
            assert self.proc.poll() is None, \
                f"nats-server {self.name} exited:\n{self.log.read_text()[-2000:]}"
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        wait_until(up, timeout, f"nats-server {self.name} on port {self.port}")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        if getattr(self, "logf", None):
            self.logf.close()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def client(self, **kw):
        return natsproto.Client(self.port, **kw)


# this session's directories: other sessions (other checkouts) may run
# servers of their own at the same time
_workdirs = set()


@pytest.fixture
def workdir():
    d = Path(tempfile.mkdtemp(prefix=TMP_TAG))
    _workdirs.add(str(d))
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers(workdir, request):
    """A factory of nats-server processes; all of them stopped at the end."""
    made = []

    def make(name="n0", **kw):
        s = NatsServer(workdir, name, **kw)
        made.append(s)
        return s

    def cleanup():
        for s in made:
            s.stop()
    request.addfinalizer(cleanup)
    return make


@pytest.fixture(scope="session", autouse=True)
def no_server_left():
    yield
    out = subprocess.run(["pgrep", "-a", "-x", "nats-server"], capture_output=True, text=True)
    ours = [l for l in out.stdout.splitlines() if any(d + "/" in l for d in _workdirs)]
    assert not ours, f"nats-server processes left behind: {ours}"


def write_config(workdir, nats, output=True, fmt="bombini", name="procmon.yaml", extra=""):
    """A procmon configuration (exec/clone/exit only) with a nats block."""
    lines = [f"format: {fmt}"]
    if output is True:
        lines.append(f"output: {workdir / 'events.jsonl'}")
    elif output:
        lines.append(f"output: {output}")
    lines.append("nats:")
    block = {"enabled": True, "spool_dir": str(workdir / "spool"), **nats}
    for k, v in block.items():
        lines.append(f"  {k}: {json.dumps(v)}")
    path = workdir / name
    path.write_text("\n".join(lines) + "\n" + extra)
    os.chmod(path, 0o600)
    return path


class Run:
    """One procmon run publishing to NATS; events also in workdir/events.jsonl."""

    def __init__(self, workdir, config, *args):
        self.workdir = workdir
        self.pm = Procmon("--config", config, *args)
        self.pm.wait_ready()

    def stop(self):
        rc = self.pm.stop()
        assert rc == 0, f"procmon exited {rc}:\n{self.pm.stderr_tail(40)}"
        return rc

    def report(self):
        """The at-exit nats counters, as a dict."""
        line = next((l for l in self.pm.stderr_lines if "at exit: nats:" in l), None)
        assert line, f"no exit report:\n{self.pm.stderr_tail(40)}"
        out = {}
        for word in line.split():
            if "=" in word:
                k, v = word.split("=", 1)
                out[k] = int(v.strip(",")) if v.strip(",").isdigit() else v
        return out


def iter_file_events(workdir, name="events.jsonl"):
    """The raw lines of procmon's local file, one at a time."""
    p = workdir / name
    if not p.exists():
        return
    with open(p, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if line:
                yield line


def file_events(workdir, name="events.jsonl"):
    return list(iter_file_events(workdir, name))


def storm(n, marker):
    """n execs of /bin/true with a marker argument, as fast as a shell goes."""
    subprocess.run(["/bin/sh", "-c", f'i=0; while [ $i -lt {n} ]; do /bin/true {marker} $i; i=$((i+1)); done'],
                   check=True)


def wait_stream_has(server, n, stream="PROCMON", timeout=DELIVERY_TIMEOUT, **kw):
    def count():
        try:
            with server.client(**kw) as c:
                return c.stream_count(stream) >= n
        except (OSError, natsproto.NatsError):
            return False
    wait_until(count, timeout, f"{n} messages in stream {stream}")


def run_tail(*args, timeout=30):
    return subprocess.run([str(TAIL), *map(str, args)], capture_output=True, timeout=timeout)
