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
import struct
import subprocess
import sys
import tempfile
import time
import zlib
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


# Every test that runs a server runs in both kinds of messages (contract
# section 8, nats.message): batches (the default) and one event a message.
MESSAGE_KINDS = ("batch", "event")
MESSAGE = {"kind": "batch"}


def pytest_configure(config):
    config.addinivalue_line("markers", "batch_only: a property of batches alone (compression, "
                            "a batch's size): runs with nats.message: batch only")


def pytest_generate_tests(metafunc):
    if "servers" in metafunc.fixturenames and "fleet_message" in metafunc.fixturenames:
        kinds = MESSAGE_KINDS
        if metafunc.definition.get_closest_marker("batch_only"):
            kinds = ("batch",)
        metafunc.parametrize("fleet_message", kinds, indirect=True)


@pytest.fixture(autouse=True)
def fleet_message(request):
    """The nats.message every write_config of the test uses."""
    MESSAGE["kind"] = getattr(request, "param", "batch")
    yield MESSAGE["kind"]
    MESSAGE["kind"] = "batch"


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


class ServerSet:
    """A factory of nats-server processes in base; stop() stops them all."""

    def __init__(self, base):
        self.base, self.made = base, []

    def __call__(self, name="n0", **kw):
        s = NatsServer(self.base, name, **kw)
        self.made.append(s)
        return s

    def stop(self):
        for s in self.made:
            s.stop()


@pytest.fixture
def servers(workdir, request):
    """A factory of nats-server processes; all of them stopped at the end."""
    made = ServerSet(workdir)
    request.addfinalizer(made.stop)
    return made


@pytest.fixture(scope="session", autouse=True)
def no_server_left():
    yield
    out = subprocess.run(["pgrep", "-a", "-x", "nats-server"], capture_output=True, text=True)
    ours = [l for l in out.stdout.splitlines() if any(d + "/" in l for d in _workdirs)]
    assert not ours, f"nats-server processes left behind: {ours}"


def cluster(servers, n=3):
    """n nats-servers routed into one cluster, listening."""
    cports = [free_port() for _ in range(n)]
    routes = ",".join(f"nats-route://127.0.0.1:{p}" for p in cports)
    nodes = [servers(f"n{i}", args=["--cluster_name", "fleet", "--cluster",
                                     f"nats://127.0.0.1:{cports[i]}", "--routes", routes])
             for i in range(n)]
    for node in nodes:
        node.start(wait=False)
    for node in nodes:
        node.wait_listening()
    return nodes


def leaders(client, streams):
    """Each stream's leader (a server name), None during an election."""
    out = {}
    for s in streams:
        try:
            out[s] = client.stream_info(s).get("cluster", {}).get("leader")
        except natsproto.NatsError:
            out[s] = None
    return out


def spread_leaders(node, streams, timeout=60):
    """Until the streams' leaders are on different nodes: step down the
    leader of a stream that shares its node (nats-server elects another
    peer), as an operator does with `nats stream cluster step-down`.
    Returns {stream: leader}."""
    def spread():
        try:
            with node.client() as c:
                now = leaders(c, streams)
                if None in now.values():
                    return False  # an election in progress
                if len(set(now.values())) == len(streams):
                    return now
                seen = set()
                for s, leader in now.items():
                    if leader in seen:
                        c.api(f"$JS.API.STREAM.LEADER.STEPDOWN.{s}")
                        return False
                    seen.add(leader)
        except (OSError, natsproto.NatsError):
            return False
    return wait_until(spread, timeout, "stream leaders on different nodes")


def write_config(workdir, nats, output=True, fmt="bombini", name="procmon.yaml", extra=""):
    """A procmon configuration (exec/clone/exit only) with a nats block."""
    lines = [f"format: {fmt}"]
    if output is True:
        lines.append(f"output: {workdir / 'events.jsonl'}")
    elif output:
        lines.append(f"output: {output}")
    lines.append("nats:")
    block = {"enabled": True, "spool_dir": str(workdir / "spool"), "message": MESSAGE["kind"],
             **nats}
    for k, v in block.items():
        lines.append(f"  {k}: {json.dumps(v)}")
    path = workdir / name
    path.write_text("\n".join(lines) + "\n" + extra)
    os.chmod(path, 0o600)
    return path


class Run:
    """One procmon run publishing to NATS; events also in workdir/events.jsonl."""

    def __init__(self, workdir, config, *args, hostname=None):
        self.workdir = workdir
        # a host name of its own: procmon in a UTS namespace of its own
        wrap = ("unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname) \
            if hostname else ()
        self.pm = Procmon("--config", config, *args, wrap=wrap)
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


# events a stream's messages carry, by (port, stream) and message seq: a
# message never changes, so each is fetched once while a test waits
_EVENTS_IN = {}


def stream_events(server, stream="PROCMON", **kw):
    """How many events the stream holds (a batch counts its events)."""
    seen = _EVENTS_IN.setdefault((server.port, stream), {})
    with server.client(**kw) as c:
        st = c.stream_info(stream)["state"]
        for seq in range(max(st["first_seq"], max(seen, default=0) + 1), st["last_seq"] + 1):
            try:
                m = c.msg(stream, seq)
            except natsproto.NatsError as e:
                if "not found" not in str(e) and "10037" not in str(e):
                    raise
                seen[seq] = 0
                continue
            seen[seq] = int(m["headers"].get("Procmon-Events", 1))
        return sum(v for k, v in seen.items() if k >= st["first_seq"])


def wait_stream_has(server, n, stream="PROCMON", timeout=DELIVERY_TIMEOUT, **kw):
    def count():
        try:
            return stream_events(server, stream, **kw) >= n
        except (OSError, natsproto.NatsError):
            return False
    wait_until(count, timeout, f"{n} events in stream {stream}")


def in_stream_order(got, local, kind_of):
    """What a reader of the stream printed against the local output: the
    same lines, each kind's (event type's) in the local order. A batch holds
    one type (contract section 8), so across types the stream's order may
    differ from the file's; with one event a message it is the file's."""
    if MESSAGE["kind"] == "event":
        return got == local
    kinds = {kind_of(l) for l in local}
    return sorted(got) == sorted(local) and all(
        [l for l in got if kind_of(l) == k] == [l for l in local if kind_of(l) == k] for k in kinds)


def write_old_spool(spool, records, first=1):
    """A spool as the previous version left it: "PSR1" records (magic,
    length, number, crc32 over length + number + payload), one event each,
    payload u8 length, "<host>.<type>", u8 length, event_id, line."""
    spool.mkdir(mode=0o700, exist_ok=True)
    out = bytearray()
    for i, (suffix, eid, line) in enumerate(records):
        payload = bytes([len(suffix)]) + suffix + bytes([len(eid)]) + eid + line
        hdr = struct.pack("<IQ", len(payload), first + i)
        crc = zlib.crc32(payload, zlib.crc32(hdr))
        out += b"PSR1" + hdr + struct.pack("<I", crc) + payload
    seg = spool / f"{first:016x}.seg"
    seg.write_bytes(bytes(out))
    os.chmod(seg, 0o600)
    return seg


def write_spool_record(seg, number, count, payload):
    """Append one record of this version ("PSR2": a count of events)."""
    hdr = struct.pack("<IQ", len(payload), number)
    cnt = struct.pack("<I", count)
    crc = zlib.crc32(payload, zlib.crc32(cnt, zlib.crc32(hdr)))
    with open(seg, "ab") as f:
        f.write(b"PSR2" + hdr + struct.pack("<I", crc) + cnt + payload)


def run_tail(*args, timeout=30):
    return subprocess.run([str(TAIL), *map(str, args)], capture_output=True, timeout=timeout)
