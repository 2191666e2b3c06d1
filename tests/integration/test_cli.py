"""Command line and configuration: signals, --output, bad configurations.

These tests start their own procmon (or expect it to refuse to start) and
do not use the shared instance.
"""

import os
import re
import select
import signal
import subprocess
import time
import uuid

import pytest

from helpers import (
    EVENT_TIMEOUT, PROCMON, READY_RE, READY_TIMEOUT, REPO, STOP_TIMEOUT, Procmon, parse_line,
    run_procmon_to_exit,
)

BAD_CONFIG = 2


@pytest.fixture(autouse=True)
def procmon_built():
    if not PROCMON.exists():
        pytest.fail(f"{PROCMON} is missing: run `make`")


def run_marker():
    """Run /bin/true with a unique argument; that argument."""
    tag = f"marker-{uuid.uuid4().hex}"
    subprocess.run(["/bin/true", tag], check=True)
    return tag


def is_marker_exec(ev, tag):
    return ev.get("type") == "ProcessExec" and ev["process"].get("args") == tag


def wait_ready_line(proc, timeout=READY_TIMEOUT):
    """Read proc's stderr (a pipe) up to the ready line: what it read."""
    deadline = time.monotonic() + timeout
    stderr = b""
    while not READY_RE.search(stderr.decode(errors="replace")):
        left = deadline - time.monotonic()
        assert left > 0, f"no ready line within {timeout} s: {stderr!r}"
        if select.select([proc.stderr], [], [], left)[0]:
            chunk = os.read(proc.stderr.fileno(), 65536)
            assert chunk, f"procmon exited before ready: {stderr!r}"
            stderr += chunk
    return stderr


# --------------------------------------------------------------------------
# Signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_stops_with_status_0(sig):
    procmon = Procmon()
    try:
        procmon.wait_ready()
        tag = run_marker()
        procmon.wait_for(lambda e: is_marker_exec(e, tag), what="marker exec")
    finally:
        status = procmon.stop(sig)
    assert status == 0, f"exit status {status} on {sig.name}:\n{procmon.stderr_tail()}"
    assert not procmon.bad_lines, procmon.bad_lines[:3]


# --------------------------------------------------------------------------
# --output FILE


def read_events(path, skip=0):
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)[skip:]
    return [parse_line(l) for l in lines]  # strict: raises on any bad line


def run_with_output(path):
    """Run a marker under procmon --output path, then stop procmon: the
    marker has exited, so its exec is in the ring buffer, and SIGTERM must
    flush it to the file. The marker's tag."""
    procmon = Procmon("--format", "bombini", "--output", path)
    try:
        procmon.wait_ready()
        tag = run_marker()
    finally:
        status = procmon.stop()
    assert status == 0, procmon.stderr_tail()
    assert not procmon.events and not procmon.bad_lines, "events also went to stdout"
    return tag


def test_output_file_created_0600(tmp_path):
    out = tmp_path / "events.jsonl"
    tag = run_with_output(out)
    assert oct(os.stat(out).st_mode & 0o7777) == oct(0o600)
    events = read_events(out)
    assert any(is_marker_exec(e, tag) for e in events)


def test_output_fifo_delivers_within_one_second(tmp_path):
    """Contract 3: each event reaches its output within one second, also
    when the output is a FIFO (procmon's stdout, `procmon > FIFO`)."""
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    # our read end first, so the O_WRONLY open for procmon does not block
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    wfd = os.open(fifo, os.O_WRONLY)
    proc = subprocess.Popen([str(PROCMON)], stdin=subprocess.DEVNULL,
                            stdout=wfd, stderr=subprocess.PIPE)
    os.close(wfd)
    try:
        wait_ready_line(proc)
        tag = run_marker()
        started = time.monotonic()
        buf = b""
        while not any(is_marker_exec(parse_line(l + b"\n"), tag)
                      for l in buf.split(b"\n")[:-1]):
            left = 1.0 - (time.monotonic() - started)
            assert left > 0, "marker exec not delivered to the FIFO within 1 s"
            ready, _, _ = select.select([rfd], [], [], left)
            if ready:
                buf += os.read(rfd, 1 << 20)
        proc.send_signal(signal.SIGTERM)
        # keep reading: the final flush must not block on a full FIFO
        while proc.poll() is None:
            if select.select([rfd], [], [], 0.1)[0]:
                os.read(rfd, 1 << 20)
        status = proc.wait(STOP_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(rfd)
    assert status == 0, proc.stderr.read().decode(errors="replace")


def test_output_fifo_planted_at_the_path_is_refused_without_hanging(tmp_path):
    """Contract 9: --output must name a regular file. A FIFO planted there
    (with nobody reading it, so a plain open would block forever) is
    refused at once with a message naming it."""
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo, 0o600)
    run = subprocess.run([str(PROCMON), "--output", str(fifo)],
                         stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=STOP_TIMEOUT)
    assert run.returncode == 1, run
    assert str(fifo) in run.stderr.decode() and b"not a regular file" in run.stderr


def test_sigterm_with_blocked_output_exits_and_counts_lost_lines():
    """A reader that stops reading must not make procmon unkillable: after
    SIGTERM it tries for 5 s, then exits 0 and reports what it could not
    write (contract 7: nothing lost silently)."""
    proc = subprocess.Popen([str(PROCMON)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stderr = wait_ready_line(proc)
        # nobody reads stdout: a few hundred events fill the 64 KiB pipe
        for _ in range(300):
            subprocess.run(["/bin/true"], check=True)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(STOP_TIMEOUT)
        took = time.monotonic() - started
        stderr += proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, stderr
    assert took < STOP_TIMEOUT
    lost = re.search(rb"at exit: events lost: .*output=(\d+)", stderr)
    assert lost and int(lost.group(1)) > 0, stderr


def test_output_file_appended(tmp_path):
    out = tmp_path / "events.jsonl"
    out.write_bytes(b'{"preexisting":true}\n')
    out.chmod(0o644)
    tag = run_with_output(out)
    # contract 9: events are root's alone; an existing file is made private
    assert oct(os.stat(out).st_mode & 0o7777) == oct(0o600)
    events = read_events(out)
    assert events[0] == {"preexisting": True}
    assert any(is_marker_exec(e, tag) for e in events[1:])


def test_output_dash_is_stdout(tmp_path):
    """--output - means stdout, as output: stdout does: the events come on
    stdout and no file named '-' appears."""
    procmon = subprocess.Popen([str(PROCMON), "--output", "-"], cwd=tmp_path,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        wait_ready_line(procmon)
        tag = run_marker()
        deadline, buf, found = time.monotonic() + EVENT_TIMEOUT, b"", False
        while not found:
            left = deadline - time.monotonic()
            assert left > 0, "no marker exec on stdout"
            if not select.select([procmon.stdout], [], [], left)[0]:
                continue
            chunk = os.read(procmon.stdout.fileno(), 1 << 20)
            assert chunk, "stdout ended without the marker's exec"
            *lines, buf = (buf + chunk).split(b"\n")
            found = any(is_marker_exec(parse_line(l + b"\n"), tag) for l in lines)
    finally:
        procmon.send_signal(signal.SIGTERM)
        assert procmon.wait(STOP_TIMEOUT) == 0
        procmon.stdout.close()
        procmon.stderr.close()
    assert os.listdir(tmp_path) == []


def test_output_none_means_no_local_output(tmp_path):
    """--output none is output: none: the events go to the fleet output
    alone (here its spool, the server being away), none to stdout and none
    to a file named 'none'."""
    spool = tmp_path / "spool"
    config = tmp_path / "procmon.yaml"
    # plain batches: the marker is then readable in the spool as written
    config.write_text(f"nats: {{spool_dir: {spool}, compression: none}}\n")
    os.chmod(config, 0o600)
    run_dir = tmp_path / "cwd"
    run_dir.mkdir()
    procmon = subprocess.Popen([str(PROCMON), "--config", config, "--output", "none",
                                "--nats", "nats://127.0.0.1:9"], cwd=run_dir,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        wait_ready_line(procmon)
        tag = run_marker()
    finally:
        procmon.send_signal(signal.SIGTERM)
        out, err = procmon.communicate(timeout=STOP_TIMEOUT + 10)
    assert procmon.returncode == 0, err.decode()
    assert out == b""
    assert os.listdir(run_dir) == []
    spooled = b"".join(p.read_bytes() for p in spool.rglob("*") if p.is_file())
    assert tag.encode() in spooled


# --------------------------------------------------------------------------
# Valid configurations

# The Bombini example of contract section 4, verbatim.
BOMBINI_CONFIG = """\
ima_hash: true            # hash executed binaries (alias: hash). Here SHA-256 computed by procmon, see 5.3
setuid:   { enabled: true, cred_filter: { uid_filter: { euid: [0] } } }
setgid:   { enabled: true, cred_filter: { gid_filter: { egid: [0] } } }
capset:   { enabled: true, cred_filter: { cap_filter: { effective: ["CAP_NET_RAW"], deny_list: false } } }
prctl:    { enabled: true }
create_user_ns: { enabled: true, cred_filter: { cap_filter: { effective: ["CAP_SYS_ADMIN"] } } }
ptrace_access_check: { enabled: true }
process_filter:           # applies to ProcessEvent hooks (not to exec/clone/exit)
  uid: [0]
  euid: [0]
  auid: []
  binary: { name: [capsh], path: [/usr/sbin/capsh], prefix: [/usr/bin/] }
  deny_list: false
"""


@pytest.mark.parametrize("source", ["bombini-example", "shipped-default"])
def test_valid_config_loads(tmp_path, source):
    if source == "shipped-default":
        config = REPO / "config" / "procmon.yaml"
    else:
        config = tmp_path / "procmon.yaml"
        config.write_text(BOMBINI_CONFIG)
    procmon = Procmon("--config", config)
    try:
        procmon.wait_ready()
        tag = run_marker()  # exec/clone/exit are always on
        procmon.wait_for(lambda e: is_marker_exec(e, tag), what="marker exec")
    finally:
        status = procmon.stop()
    assert status == 0, procmon.stderr_tail()


# --------------------------------------------------------------------------
# Invalid configurations and usage: exit 2, a message naming the problem

CONFIG_ERRORS = {
    # name: (file content, what stderr must name, line number of the problem)
    "unknown-key": ("# test config\nformat: bombini\n\nbogus_key: true\n", "bogus_key", 4),
    "unknown-nested-key": ("setuid:\n  enabled: true\n  bogus_nested: 1\n", "bogus_nested", 3),
    "wrong-type": ("format: bombini\nima_hash: [1, 2]\n", "ima_hash", 2),
    "wrong-type-nested": ("process_filter:\n  uid: [0]\n  euid: root\n", "euid", 3),
    "unknown-capability": (
        "capset:\n  enabled: true\n  cred_filter:\n    cap_filter:\n"
        "      effective: [CAP_BOGUS]\n", "CAP_BOGUS", 5),
    "bad-format-value": ("format: xml\n", "format", 1),
}


def names_line(stderr, path, line):
    """True if a stderr line names path and, elsewhere on it, the line number."""
    for text in stderr.splitlines():
        if str(path) in text:
            rest = text.replace(str(path), " ")
            if re.search(rf"(?<![\w.]){line}(?![\w.])", rest):
                return True
    return False


@pytest.mark.parametrize("name", CONFIG_ERRORS)
def test_config_error(tmp_path, name):
    content, key, line = CONFIG_ERRORS[name]
    config = tmp_path / "procmon.yaml"
    config.write_text(content)
    status, stderr = run_procmon_to_exit(["--config", config])
    assert status == BAD_CONFIG, f"exit status {status}; stderr:\n{stderr}"
    assert key in stderr, f"stderr does not name {key!r}:\n{stderr}"
    assert str(config) in stderr, f"stderr does not name the file:\n{stderr}"
    assert names_line(stderr, config, line), f"stderr does not name line {line}:\n{stderr}"


def test_config_syntax_error(tmp_path):
    config = tmp_path / "procmon.yaml"
    config.write_text("format: bombini\nsetuid: { enabled: true\nprctl: {}\n")
    status, stderr = run_procmon_to_exit(["--config", config])
    assert status == BAD_CONFIG, f"exit status {status}; stderr:\n{stderr}"
    assert str(config) in stderr, f"stderr does not name the file:\n{stderr}"


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_config_unreadable(tmp_path, kind):
    config = tmp_path / "absent.yaml" if kind == "missing" else tmp_path
    status, stderr = run_procmon_to_exit(["--config", config])
    assert status == BAD_CONFIG, f"exit status {status}; stderr:\n{stderr}"
    assert str(config) in stderr, f"stderr does not name the file:\n{stderr}"


@pytest.mark.parametrize("args", [["--bogus-option"], ["--format", "xml"]],
                         ids=["unknown-option", "unknown-format"])
def test_bad_usage(args):
    status, stderr = run_procmon_to_exit(args)
    assert status == BAD_CONFIG, f"exit status {status}; stderr:\n{stderr}"
    assert stderr.strip(), "no message on stderr"


def test_without_privileges_exits_1_naming_what_is_missing():
    """Contract 2: without the capabilities, exit 1 and one line saying
    what is missing."""
    run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          str(PROCMON)], stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=STOP_TIMEOUT)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    for cap in ("CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"):
        assert cap in lines[0], lines[0]
    assert run.stdout == b""


# A kernel without what procmon needs, simulated for real: procmon runs in
# a mount namespace where the kernel's BTF or the syscall tracepoints are
# hidden under a bind mount, as on a kernel built without them.
@pytest.mark.parametrize("hide,target,missing", [
    ("file", "/sys/kernel/btf/vmlinux", "BTF"),
    ("dir", "/sys/kernel/tracing/events/syscalls", "syscall tracepoints"),
], ids=["no-btf", "no-syscall-tracepoints"])
def test_kernel_without_a_feature_exits_1_with_one_line(tmp_path, hide, target, missing):
    """Issue 15 item 7: exit 1, one line naming what is missing and the
    kernel that works, and nothing of libbpf's."""
    empty = tmp_path / "empty"
    if hide == "file":
        empty.write_bytes(b"")
    else:
        empty.mkdir()
    if not os.path.exists(target):
        # tracefs not mounted yet: procmon mounts it; so does the check here
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"],
                       check=False)
    script = f'mount --bind "$1" "$2" && exec "$3" --output "$4"'
    run = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(empty), target,
                          str(PROCMON), str(tmp_path / "out.json")],
                         stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=STOP_TIMEOUT)
    lines = run.stderr.decode().splitlines()
    assert run.returncode == 1, lines
    assert len(lines) == 1, lines
    assert missing in lines[0] and target.rsplit("/", 1)[0] in lines[0], lines[0]
    assert "needs Linux 6.13 or later" in lines[0], lines[0]
    assert "libbpf" not in lines[0], lines[0]
    assert run.stdout == b""
