"""procmon-tail against a real nats-server: both message kinds of contract
section 8 (published here by the test, byte for byte as the contract says,
so these tests do not depend on which kind procmon sends), the Unix-tool
behaviour, --check-gaps, the filters, --durable across a kill, and --tree
of a real fork/exec tree seen by a real procmon.
"""

import json
import os
import re
import signal
import subprocess
import time

import pytest

import helpers
from conftest import DELIVERY_TIMEOUT, TAIL, Run, in_stream_order, run_tail, write_config

HOST = "web-01"
RUN_ID = "e1021557-0f65-46e7"


def event(seq, etype="ProcessExec", host=HOST, pid=None, ppid=1, uid=0, binary="/usr/bin/true",
          args="", exec_id=None, parent_exec_id="p" * 32, run=RUN_ID, **extra):
    """A native event line as procmon writes it (the fields the consumer reads)."""
    pid = pid if pid is not None else 1000 + seq
    proc = {"start_time": "2026-12-08T01:00:00.000Z", "cloned": etype == "ProcessClone",
            "pid": pid, "tid": pid, "ppid": ppid, "uid": uid, "euid": uid, "gid": uid,
            "egid": uid, "auid": 4294967295, "cap_inheritable": "", "cap_permitted": "",
            "cap_effective": "", "secureexec": "", "filename": os.path.basename(binary),
            "binary_path": binary, "args": args, "exec_id": exec_id or f"{pid:032x}"}
    parent = {"pid": ppid, "binary_path": "/usr/bin/bash", "args": "", "exec_id": parent_exec_id}
    ev = {"type": etype, "process": proc, "parent": parent, **extra,
          "timestamp": f"2026-12-08T01:02:{seq % 60:02d}.{seq % 1000:03d}Z",
          "host": host, "event_id": f"{run}-{seq >> 48:04x}-{seq & 0xffffffffffff:012x}",
          "seq": seq}
    return json.dumps(ev, separators=(",", ":")).encode()


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                          check=True).stdout


def publish_batch(client, lines, host=HOST, etype=None, compress=True):
    """One batch message: the lines each ending in \\n, maybe zstd."""
    etype = etype or json.loads(lines[0])["type"]
    body = b"".join(l + b"\n" for l in lines)
    headers = {"Nats-Msg-Id": json.loads(lines[0])["event_id"], "Procmon-Events": len(lines)}
    if compress:
        body = zstd(body)
        headers["Content-Encoding"] = "zstd"
    return client.js_publish(f"procmon.{host}.{etype}", body, headers)


def publish_event(client, line, host=HOST):
    ev = json.loads(line)
    return client.js_publish(f"procmon.{host}.{ev['type']}", line,
                             {"Nats-Msg-Id": ev["event_id"]})


@pytest.fixture
def stream(servers):
    """A server with an empty PROCMON stream, and a client to it."""
    srv = servers().start()
    with srv.client() as c:
        c.create_stream()
        yield srv, c


def tail(srv, *args, timeout=30):
    return run_tail("--server", srv.url, *args, timeout=timeout)


def out_lines(r):
    return [l for l in r.stdout.split(b"\n") if l]


# --------------------------------------------------------------------------
# both message kinds


def test_reads_batches_compressed_or_not_and_single_events(stream):
    srv, c = stream
    execs = [event(s, args=f"a{s}") for s in range(1, 6)]
    exits = [event(s, "ProcessExit", exit_code=0, signal="") for s in range(6, 9)]
    singles = [event(9), event(10, "ProcessClone")]
    publish_batch(c, execs)                    # zstd
    publish_batch(c, exits, compress=False)    # plain
    for l in singles:
        publish_event(c, l)                    # one event, one message
    r = tail(srv, "--all", "--catch-up")
    assert r.returncode == 0, r.stderr
    assert out_lines(r) == execs + exits + singles
    assert r.stdout.endswith(b"\n") and r.stderr == b""
    # --type, --host: subject filters, across both kinds
    r = tail(srv, "--all", "--catch-up", "--type", "ProcessExit", "--host", HOST)
    assert out_lines(r) == exits
    # --count counts events, not messages
    r = tail(srv, "--all", "--count", "7")
    assert out_lines(r) == (execs + exits)[:7]
    # --since after everything: nothing
    r = tail(srv, "--since", "2099-01-01T00:00:00Z", "--catch-up")
    assert r.returncode == 0 and r.stdout == b""


def test_a_batch_whose_count_or_compression_is_wrong_is_reported(stream):
    srv, c = stream
    good = [event(1), event(2)]
    body = b"".join(l + b"\n" for l in good)
    c.js_publish(f"procmon.{HOST}.ProcessExec", body, {"Procmon-Events": 3})
    c.js_publish(f"procmon.{HOST}.ProcessExec", b"\x28\xb5\x2f\xfd garbage",
                 {"Procmon-Events": 1, "Content-Encoding": "zstd"})
    r = tail(srv, "--all", "--catch-up")
    assert out_lines(r) == good
    err = r.stderr.decode()
    assert "Procmon-Events says 3, the batch has 2 lines" in err
    assert "does not decompress" in err
    assert r.returncode == 1


# --------------------------------------------------------------------------
# a Unix tool


@pytest.mark.parametrize("n", [1, 200])
def test_exits_when_its_reader_goes_away(stream, n):
    """procmon-tail --all | head -1: exits within 2 s, quietly, whether more
    events come after the first (EPIPE) or none does (stdout polled)."""
    srv, c = stream
    lines = [event(s) for s in range(1, n + 1)]
    for i in range(0, n, 50):
        publish_batch(c, lines[i:i + 50])
    t0 = time.monotonic()
    r = subprocess.run(["/bin/sh", "-c", f'"{TAIL}" --server {srv.url} --all | head -1'],
                       capture_output=True, timeout=10)
    elapsed = time.monotonic() - t0
    assert r.stdout.split(b"\n")[0] == lines[0]
    assert r.stderr == b"", r.stderr
    assert elapsed < 2.0, f"procmon-tail | head -1 took {elapsed:.2f} s"


@pytest.mark.parametrize("args,says", [
    (["--type", "Bogus"], "--type Bogus: no such event type"),
    (["--type", "Setuid"], "use --type ProcessEvent"),
    (["--all", "--new"], "--all and --new: give one start"),
    (["--since", "1h", "--all"], "--since and --all"),
    (["--since", "yesterday"], "--since 'yesterday'"),
    (["--check-gaps", "--type", "ProcessExec"], "seq numbers count every event of a host"),
    (["--check-gaps", "--pid", "1"], "seq numbers count every event of a host"),
    (["--check-gaps", "--tree"], "one report at a time"),
    (["--tree", "-o", "compact"], "--tree prints a report"),
    (["--check-gaps", "--durable", "x"], "--check-gaps prints a report"),
    (["-o", "xml"], "-o 'xml': expected json or compact"),
    (["--color", "sometimes"], "--color 'sometimes'"),
    (["--count", "0"], "--count '0'"),
    (["--pid", "abc"], "--pid 'abc'"),
    (["--durable", "a.b"], "--durable 'a.b'"),
    (["--auth-user", "u"], "--auth-user and --password go together"),
    (["--token", "t", "--creds", "/dev/null"], "give at most one"),
    (["--bogus-flag"], "unrecognized option"),
    (["extra"], "unexpected argument 'extra'"),
])
def test_bad_usage_is_exit_2_with_a_reason(args, says):
    r = subprocess.run([str(TAIL), "--server", "nats://127.0.0.1:9", *args],
                       capture_output=True, timeout=10)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert says in r.stderr.decode(), r.stderr
    assert r.stdout == b""


def test_version_and_help():
    r = subprocess.run([str(TAIL), "--version"], capture_output=True, timeout=10)
    assert r.returncode == 0 and re.match(rb"procmon-tail \d+\.\d+", r.stdout), r.stdout
    r = subprocess.run([str(TAIL), "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0
    for flag in ("--server", "--stream", "--prefix", "--new", "--all", "--since", "--catch-up",
                 "--count", "--host", "--type", "--pid", "--user", "--binary", "--args",
                 "--output", "--color", "--check-gaps", "--tree", "--durable", "--token",
                 "--auth-user", "--password", "--creds", "--tls-ca", "--tls-cert", "--tls-key",
                 "--version", "--help"):
        assert flag.encode() in r.stdout, flag


def test_errors_are_in_its_own_words(servers, workdir):
    r = subprocess.run([str(TAIL), "--server", "nats://127.0.0.1:9", "--all"],
                       capture_output=True, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1
    assert "connecting to nats://127.0.0.1:9: no NATS server answers there" in err, err
    assert ".c:" not in err, err
    srv = servers().start()
    r = tail(srv, "--all", "--stream", "NOPE")
    assert r.returncode == 1
    assert "stream NOPE does not exist on " + srv.url in r.stderr.decode(), r.stderr


def test_a_host_without_events_is_said(stream):
    srv, c = stream
    publish_batch(c, [event(1)])
    r = tail(srv, "--all", "--catch-up", "--host", "no-such-host")
    assert r.returncode == 1 and r.stdout == b""
    assert (f"no events from host 'no-such-host' in stream PROCMON; it has: {HOST}"
            in r.stderr.decode()), r.stderr


# --------------------------------------------------------------------------
# --check-gaps


def test_check_gaps_with_and_without_a_real_gap(stream):
    srv, c = stream
    # host web-01: seq 1..120 in batches of ProcessExec and ProcessExit
    # interleaved (seq runs across types: each type alone has gaps)
    for base in range(1, 121, 20):
        publish_batch(c, [event(s) for s in range(base, base + 10)])
        publish_batch(c, [event(s, "ProcessExit") for s in range(base + 10, base + 20)],
                      compress=False)
    # host db-02: seq 5..30 without 7 and 20..22, one resent (a duplicate)
    db = [s for s in range(5, 31) if s != 7 and not 20 <= s <= 22]
    publish_batch(c, [event(s, host="db-02") for s in db[:10]], host="db-02")
    publish_batch(c, [event(s, host="db-02") for s in db[10:]], host="db-02")
    publish_event(c, event(12, host="db-02", run="aaaaaaaa-bbbb-cccc"), host="db-02")
    publish_event(c, event(12, host="db-02", pid=77), host="db-02")
    # the whole stream: one host clean, one with 4 missing
    r = tail(srv, "--check-gaps")
    out = r.stdout.decode()
    assert r.returncode == 1, out
    assert (f"host {HOST} run {RUN_ID}: seq 1..120, 120 events, 0 missing, 0 duplicates"
            in out), out
    assert (f"host db-02 run {RUN_ID}: seq 5..30, 23 events, 4 missing (7, 20-22), "
            "1 duplicates" in out), out
    assert "host db-02 run aaaaaaaa-bbbb-cccc: seq 12..12, 1 events, 0 missing" in out, out
    # one host: only its subjects, no gap
    r = tail(srv, "--check-gaps", "--host", HOST)
    assert r.returncode == 0, r.stdout
    assert r.stdout.decode().count("host ") == 1
    # with --type: refused, since a type's events are not consecutive
    r = tail(srv, "--check-gaps", "--type", "ProcessExec")
    assert r.returncode == 2 and b"--host" in r.stderr and r.stdout == b""


def test_check_gaps_lists_many_gaps_readably(stream):
    srv, c = stream
    seqs = [s for s in range(1, 200) if s % 5]  # 1-4, 6-9, ...: 39 single gaps
    publish_batch(c, [event(s) for s in seqs])
    r = tail(srv, "--check-gaps")
    line = r.stdout.decode().strip()
    assert r.returncode == 1
    assert "39 missing (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, " \
           "85, 90, 95, 100, ...)" in line, line


# --------------------------------------------------------------------------
# filters


def test_filters_pid_user_binary_args(stream):
    srv, c = stream
    evs = [event(1, pid=500, uid=0, binary="/usr/bin/curl", args="-s https://example.org"),
           event(2, pid=501, uid=1000, binary="/usr/bin/ls", args="-la /tmp"),
           event(3, pid=502, uid=1000, binary="/opt/tool/bin/curl", args="http://x"),
           event(4, "ProcessExit", pid=500, uid=0, binary="/usr/bin/curl",
                 args="-s https://example.org", exit_code=0, signal="")]
    publish_batch(c, evs[:3])
    publish_batch(c, evs[3:])

    def got(*args):
        r = tail(srv, "--all", "--catch-up", *args)
        assert r.returncode == 0, r.stderr
        return out_lines(r)
    assert got("--pid", "500") == [evs[0], evs[3]]
    assert got("--user", "1000") == [evs[1], evs[2]]
    assert got("--user", "root") == [evs[0], evs[3]]
    assert got("--binary", "curl") == [evs[0], evs[2], evs[3]]
    assert got("--binary", "/usr/*") == [evs[0], evs[1], evs[3]]
    assert got("--args", "example.org") == [evs[0], evs[3]]
    assert got("--binary", "curl", "--user", "1000") == [evs[2]]
    assert got("--pid", "999") == []


# --------------------------------------------------------------------------
# -o compact


def test_compact_lines_of_batches(stream):
    srv, c = stream
    hostile = "a\nb\x1b[31mred\u202etxt.exe \ufffd \\ end"
    evs = [event(1, pid=4242, uid=1000, binary="/usr/bin/ls", args="-la /tmp"),
           event(2, "ProcessExit", pid=4242, uid=1000, binary="/usr/bin/ls", args="-la /tmp",
                 exit_code=2, signal=""),
           event(3, pid=4243, binary="/tmp/x", args=hostile)]
    publish_batch(c, evs)
    r = tail(srv, "--all", "--catch-up", "-o", "compact")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"01:02:01\.001 web-01 🚀 exec +4242 uid=1000 /usr/bin/ls -la /tmp",
                        lines[0]), lines[0]
    assert re.fullmatch(r"01:02:02\.002 web-01 💥 exit +4242 uid=1000 /usr/bin/ls -la /tmp exit 2",
                        lines[1]), lines[1]
    assert lines[2].endswith(r"/tmp/x a\nb\x1b[31mred\u{202e}txt.exe � \\ end"), lines[2]
    assert "\x1b" not in r.stdout.decode()  # no colour into a pipe (auto), no raw ESC
    r = tail(srv, "--all", "--catch-up", "-o", "compact", "--color", "always")
    assert b"\x1b[32m" in r.stdout and b"\x1b[0m" in r.stdout


# --------------------------------------------------------------------------
# --durable: at least once across a kill


def read_until(proc, n, timeout=DELIVERY_TIMEOUT):
    """n lines from proc's stdout, within timeout."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"{len(got)} of {n} lines"
        line = proc.stdout.readline()
        assert line, f"EOF after {len(got)} lines"
        got.append(line.rstrip(b"\n"))
    return got


def test_durable_resumes_after_a_kill_and_loses_nothing(stream):
    srv, c = stream
    first = [event(s) for s in range(1, 301)]
    for i in range(0, 300, 25):
        publish_batch(c, first[i:i + 25], compress=bool(i % 50))
    argv = [str(TAIL), "--server", srv.url, "--durable", "siem", "--all"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = read_until(p, 60)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    # what it wrote before the kill is the shipper's; a last line cut by
    # the kill (no newline) is not an event, and its message was not
    # acknowledged: it comes again
    rest = p.stdout.read()
    got += [l for l in rest.split(b"\n")[:-1] if l]
    assert p.stderr.read() == b""
    # events published while no reader runs
    more = [event(s) for s in range(301, 351)]
    publish_batch(c, more)
    r = run_tail("--server", srv.url, "--durable", "siem", "--catch-up")
    assert r.returncode == 0, r.stderr
    again = out_lines(r)
    seen = got + again
    assert set(seen) == set(first + more), "events lost"
    # resumed where it stopped: at most the messages in flight come twice
    # (written, not yet acknowledged when killed), not the whole stream
    assert len(seen) - len(set(seen)) <= 64 * 25, len(seen) - len(set(seen))
    assert len(again) < len(first + more)
    # (what the killed reader held unacknowledged comes back after the ack
    # wait, so possibly after newer events)
    assert set(more) <= set(again)
    # and a third run: everything was acknowledged, nothing left to read
    r = run_tail("--server", srv.url, "--durable", "siem", "--catch-up")
    assert r.returncode == 0 and r.stdout == b"", r.stdout[:300]


def test_durable_acknowledges_only_what_was_written(stream):
    """--count stops halfway through a batch: that batch is not acknowledged
    and comes again, whole, to the next run."""
    srv, c = stream
    lines = [event(s) for s in range(1, 11)]
    publish_batch(c, lines[:5])
    publish_batch(c, lines[5:])
    r = run_tail("--server", srv.url, "--durable", "d2", "--all", "--count", "7")
    assert out_lines(r) == lines[:7]
    r = run_tail("--server", srv.url, "--durable", "d2", "--catch-up")
    assert out_lines(r) == lines[5:]


def test_durable_with_other_filters_is_refused(stream):
    srv, c = stream
    publish_batch(c, [event(1)])
    r = run_tail("--server", srv.url, "--durable", "d3", "--all", "--catch-up")
    assert r.returncode == 0
    r = run_tail("--server", srv.url, "--durable", "d3", "--type", "ProcessExit", "--catch-up")
    assert r.returncode == 2
    assert "that consumer reads 'procmon.*.*'" in r.stderr.decode(), r.stderr


# --------------------------------------------------------------------------
# --tree of a real fork/exec tree, seen by procmon


def test_tree_of_a_known_fork_exec_tree(servers, workdir):
    srv = servers().start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}))
    out = subprocess.run([helpers.prog("proc_tree"), "tree-top"], capture_output=True, check=True,
                         timeout=30).stdout.decode()
    pids = dict(l.split() for l in out.splitlines())
    run.stop()
    r = tail(srv, "--tree", "--host", os.uname().nodename)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    lines = text.splitlines()
    assert lines[0] == f"host {os.uname().nodename}"
    top = next(i for i, l in enumerate(lines)
               if re.search(rf"(^|─ ){pids['top']} \S*proc_tree ", l))
    indent = len(re.match(r"^[ │├└─]*", lines[top]).group(0))
    sub = [lines[top]]
    for l in lines[top + 1:]:
        if len(re.match(r"^[ │├└─]*", l).group(0)) <= indent:
            break
        sub.append(l)
    shape = [re.sub(r"  (clone|exec|exit) \d\d:\d\d:\d\d\.\d\d\d", r"  \1 T", l[indent:])
             for l in sub]
    prog = str(helpers.prog("proc_tree"))
    assert shape == [
        f"{pids['top']} {prog} tree-top  exec T  exit T",
        f"├─ {pids['a']} /usr/bin/true tree-a  exec T  exit T",
        f"└─ {pids['b']} {prog} tree-top  clone T  exit T",
        f"   └─ {pids['c']} /usr/bin/true tree-c  exec T  exit T",
    ], text


# --------------------------------------------------------------------------
# procmon --format compact: people read the file, machines the stream


def test_format_compact_writes_lines_for_people_and_json_to_the_fleet(servers, workdir):
    srv = servers().start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}, fmt="compact"))
    out = subprocess.run([helpers.prog("proc_tree"), "tree-top"], capture_output=True,
                         check=True, timeout=30).stdout.decode()
    pids = dict(l.split() for l in out.splitlines())
    run.stop()
    local = (workdir / "events.jsonl").read_text().splitlines()
    assert local and not any(l.startswith("{") for l in local)
    # the stream has the native JSON of the same events ...
    r = tail(srv, "--all", "--catch-up")
    evs = [json.loads(l) for l in out_lines(r)]
    assert len(evs) == len(local)
    assert any(e["type"] == "ProcessExec" and e["process"]["pid"] == int(pids["a"])
               and e["process"]["args"] == "tree-a" for e in evs)
    # ... and procmon-tail -o compact renders them as procmon did
    r = tail(srv, "--all", "--catch-up", "-o", "compact")
    # (a compact line's second word after the host is its kind: exec, exit, ...)
    assert in_stream_order(r.stdout.decode().splitlines(), local, lambda l: l.split()[3])
    host = os.uname().nodename
    a = [l for l in local if re.search(rf" {pids['a']} root ", l)]
    assert [re.sub(r"^\d\d:\d\d:\d\d\.\d\d\d ", "", l) for l in a if " exec " in l or " exit " in l] == [
        f"{host} 🚀 exec    {pids['a']} root /usr/bin/true tree-a",
        f"{host} 💥 exit    {pids['a']} root /usr/bin/true tree-a exit 0"]


def test_a_server_restart_is_said_and_reading_goes_on(stream):
    srv, c = stream
    publish_batch(c, [event(1)])
    p = subprocess.Popen([str(TAIL), "--server", srv.url, "--all", "--count", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert read_until(p, 1) == [event(1)]
    c.close()
    srv.stop()
    srv.start()
    with srv.client() as c2:
        helpers.wait_until(lambda: c2.stream_count("PROCMON") == 1, "the stream back", 15)
        publish_batch(c2, [event(2)])
    assert read_until(p, 1) == [event(2)]
    rc = p.wait(10)
    err = p.stderr.read().decode()
    assert rc == 0, err
    assert "procmon-tail: disconnected from the server; reconnecting" in err, err
    assert f"procmon-tail: reconnected to {srv.url}" in err, err
