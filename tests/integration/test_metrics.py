"""Metrics and health over HTTP (contract section 9, docs/metrics.md).

A real procmon with `metrics: { listen: 127.0.0.1:PORT }`, scraped with
urllib: the counters follow what the test did, the page passes
`promtool check metrics`, /healthz says ok, and says why not (503) when
the output fails (stdout on /dev/full). Every wait is on a condition with
a deadline, never a sleep.
"""

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from helpers import PROCMON, READY_RE, READY_TIMEOUT, STOP_TIMEOUT, Procmon, wait_until

SAMPLE_RE = re.compile(r'^(procmon_[a-z_]+)(\{[^}]*\})? (\S+)$')
LABEL_RE = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')
# the only label names procmon uses: each has a fixed, small set of values
LABELS = {"type", "subtype", "category", "stage", "result", "version", "level"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(tmp_path, port, extra=""):
    f = tmp_path / "metrics.yaml"
    f.write_text(f'metrics: {{ listen: "127.0.0.1:{port}" }}\nima_hash: true\n{extra}')
    os.chmod(f, 0o600)
    return f


def get(port, path):
    """(status, body) of GET http://127.0.0.1:PORT/PATH."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse(page):
    """{(name, frozenset(labels)): value} of a metrics page."""
    out = {}
    for line in page.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        assert key not in out, f"sample twice: {line!r}"
        out[key] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def promtool_check(page):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/install-deps.sh installs prometheus"
    p = subprocess.run([promtool, "check", "metrics"], input=page.encode(),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()
    # promtool prints lint problems on stdout and still may exit 0
    assert not (p.stdout + p.stderr).strip(), (p.stdout + p.stderr).decode()


def test_metrics_follow_what_happened(tmp_path):
    port = free_port()
    pm = Procmon("--config", config(tmp_path, port, "module_load: { enabled: true }\n"))
    try:
        pm.wait_ready()
        assert get(port, "/healthz") == (200, "ok\n")
        before = parse(get(port, "/metrics")[1])
        n = 25
        for _ in range(n):
            subprocess.run(["/bin/true"], check=True)
    
        def grown():
            status, page = get(port, "/metrics")
            assert status == 200
            s = parse(page)
            ok = all(value(s, "procmon_events_written_total", type=t) >=
                     value(before, "procmon_events_written_total", type=t) + n
                     for t in ("ProcessExec", "ProcessClone", "ProcessExit"))
            return (page, s) if ok else None
        page, after = wait_until(grown, f"{n} more execs, clones and exits in /metrics")

        promtool_check(page)
        for name, labels in after:
            assert {k for k, _ in labels} <= LABELS, (name, labels)
        # every counter ends in _total, every family has its HELP and TYPE
        for m in re.finditer(r"^# TYPE (\S+) (\S+)$", page, re.M):
            assert m.group(1).startswith("procmon_")
            assert (m.group(2) == "counter") == m.group(1).endswith("_total"), m.group(0)
        for t in ("ProcessClone", "ProcessExit"):
            assert value(after, "procmon_events_written_total", type=t) >= \
                value(before, "procmon_events_written_total", type=t) + n
        # /bin/true maps libc: ModuleLoad events, and the same files hashed once
        assert value(after, "procmon_events_written_total", type="ModuleLoad") > \
            value(before, "procmon_events_written_total", type="ModuleLoad")
        assert value(after, "procmon_hash_cache_lookups_total", result="hit") >= \
            value(before, "procmon_hash_cache_lookups_total", result="hit") + n - 1
        assert value(after, "procmon_process_cache_lookups_total", result="hit") > \
            value(before, "procmon_process_cache_lookups_total", result="hit")
        assert value(after, "procmon_process_cache_entries") > 0
        assert value(after, "procmon_output_bytes_total") > value(before, "procmon_output_bytes_total")
        assert value(after, "procmon_ring_buffer_size_bytes") == 8192 * 1024
        assert value(after, "procmon_probes_attached") == 1
        assert value(after, "procmon_output_write_errors_total") == 0
        assert abs(value(after, "procmon_start_time_seconds") - time.time()) < 120
        assert any(name == "procmon_build_info" for name, _ in after)
        lines = value(after, "procmon_output_lines_total")
        # the ProcessExec events themselves went out
        pm.wait_for(lambda ev: ev.get("type") == "ProcessExec", timeout=10)
        assert lines > 0

        assert get(port, "/nothing")[0] == 404
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", data=b"x", method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 405
    finally:
        status = pm.stop()
    assert status == 0, pm.stderr_tail()
    assert not pm.bad_lines


def test_healthz_503_when_the_output_fails(tmp_path):
    """stdout on /dev/full: every write fails with ENOSPC."""
    port = free_port()
    with open("/dev/full", "wb") as full:
        p = subprocess.Popen([str(PROCMON), "--config", config(tmp_path, port)],
                             stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE)
    ready = threading.Event()
    err = []

    def read_stderr():
        for raw in iter(p.stderr.readline, b""):
            err.append(raw.decode(errors="replace"))
            if READY_RE.search(err[-1]):
                ready.set()
        ready.set()
    threading.Thread(target=read_stderr, daemon=True).start()
    try:
        assert ready.wait(READY_TIMEOUT) and p.poll() is None, "".join(err)

        def failing():
            subprocess.run(["/bin/true"], check=True)  # an event to write
            status, body = get(port, "/healthz")
            return (status, body) if status == 503 else None
        status, body = wait_until(failing, "/healthz to say 503")
        assert body == "the last write to the output stdout failed: No space left on device\n"
        s = parse(get(port, "/metrics")[1])
        assert value(s, "procmon_output_write_errors_total") > 0
        assert value(s, "procmon_events_lost_total", stage="output") > 0
    finally:
        p.terminate()
        p.wait(STOP_TIMEOUT)


def test_metrics_address_taken_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = subprocess.run([str(PROCMON), "--config", config(tmp_path, port)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=READY_TIMEOUT)
    assert p.returncode == 1
    assert f"metrics: cannot listen on 127.0.0.1:{port}: Address already in use" \
        in p.stderr.decode()
