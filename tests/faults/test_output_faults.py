"""The output goes wrong: a full disk, /dev/full, the directory removed,
a file-size limit, a pipe whose reader leaves, closed standard descriptors.

In every case: each line that reaches the output is whole, valid JSON; the
exit report's `events written` equals the lines that reached the output,
and what did not reach it is counted in `output=N`; procmon does not crash,
hang or flood its log.
"""

import os
import resource
import signal
import subprocess
import time

from faultkit import (
    exit_report, file_has, finish_storm, marker, parse_all, read_lines,
    start_storm, wait_file,
)
from helpers import parse_line


def test_disk_full_then_freed(tiny_tmpfs, spawn):
    """The output has 64 KiB of room (a 1 MiB tmpfs, 960 KiB taken by a
    filler file) and fills under an exec storm; then the filler is
    deleted: the file always ends on a line boundary with no two lines
    glued together, writing resumes once there is room, and every event is
    either in the file or counted as lost. (960 KiB freed, not less: on a
    busy host other processes' events take freed room fast, and the marker
    must still fit.)"""
    filler = tiny_tmpfs / "filler"
    filler.write_bytes(b"\0" * (960 << 10))
    out = tiny_tmpfs / "events.jsonl"
    d = spawn("--output", out).wait_ready()
    storm, _ = start_storm(150)  # ~900 lines, far more than 64 KiB
    finish_storm(storm)
    wait_file(lambda: os.statvfs(tiny_tmpfs).f_bavail * os.statvfs(tiny_tmpfs).f_frsize < 4096,
              "the tmpfs to be full")
    # full now: whatever procmon has on disk must already be whole lines
    filler.unlink()
    tag = marker()
    wait_file(lambda: file_has(out, tag.encode()), "the marker exec after space returned")
    assert d.stop() == 0, d.stderr[-2000:]
    events = read_lines(out)  # strict: no partial, no glued line
    lost, written = exit_report(d.stderr)
    assert lost > 0, "a full disk lost nothing?"
    assert written == len(events), \
        f"events written: {written}, but the file has {len(events)} lines"


def test_dev_full_stdout(spawn):
    """`procmon >/dev/full`: nothing is written, everything is counted as
    lost, and the ENOSPC errors are rate-limited (first one, then a summary
    every few seconds), not one per flush."""
    with open("/dev/full", "wb") as full:
        d = spawn(stdout=full)
    d.wait_ready()
    deadline = time.monotonic() + 3  # three seconds of steady events
    while time.monotonic() < deadline:
        subprocess.run(["/bin/true"], check=True)
    assert d.stop() == 0, d.stderr[-2000:]
    lost, written = exit_report(d.stderr)
    assert written == 0, f"events written: {written} to /dev/full (output lost {lost})"
    assert lost > 0
    enospc = [l for l in d.stderr.splitlines() if "No space left on device" in l]
    assert len(enospc) <= 3, \
        f"{len(enospc)} ENOSPC lines in ~3 s, e.g.:\n" + "\n".join(enospc[:5])


def test_output_dir_removed(tmp_path, spawn):
    """`rm -rf` of the output's directory, then SIGHUP: no crash, the
    failed reopen is reported naming the file, procmon keeps running, every
    event is in the (unlinked) file or counted, exit 0 on SIGTERM."""
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    out = logs / "events.jsonl"
    d = spawn("--output", out).wait_ready()
    keep = os.open(out, os.O_RDONLY)  # the inode, to read after rm -rf
    try:
        subprocess.run(["rm", "-rf", str(logs)], check=True)
        tag1 = marker()
        d.proc.send_signal(signal.SIGHUP)
        d.wait_stderr(lambda l: str(out) in l, f"the path {out} (failed reopen)")
        tag2 = marker()
        assert d.proc.poll() is None, "procmon died after its directory went"
        assert d.stop() == 0, d.stderr[-2000:]
        data = b""
        while chunk := os.pread(keep, 1 << 20, len(data)):
            data += chunk
    finally:
        os.close(keep)
    events = parse_all(data, f"{out} (deleted)")
    lost, written = exit_report(d.stderr)
    assert written == len(events), f"events written: {written}, lines: {len(events)}"
    args = {e["process"].get("args") for e in events if e.get("type") == "ProcessExec"}
    for tag in (tag1, tag2):
        assert tag in args or lost > 0, f"marker {tag} neither written nor counted"


def test_file_size_limit(tmp_path, spawn):
    """RLIMIT_FSIZE (`ulimit -f`) smaller than the output: SIGXFSZ must not
    kill procmon; the lines over the limit are counted as lost, the file
    ends on a line boundary, SIGTERM gives exit 0."""
    out = tmp_path / "events.jsonl"
    limit = 32 << 10

    def limit_fsize():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    d = spawn("--output", out, preexec_fn=limit_fsize)
    if not d.ready_or_exit():
        raise AssertionError(f"procmon exited with status {d.wait_exit()} (signal "
                             f"{-d.proc.returncode if d.proc.returncode < 0 else 'none'}) "
                             f"before ready; stderr:\n{d.stderr[-2000:]}")
    storm, _ = start_storm(50)
    finish_storm(storm)
    marker()
    assert d.proc.poll() is None, f"procmon died: status {d.proc.returncode}"
    rc = d.stop()
    assert rc == 0, f"exit status {rc}; stderr:\n{d.stderr[-2000:]}"
    events = read_lines(out)
    assert os.path.getsize(out) <= limit
    lost, written = exit_report(d.stderr)
    assert lost > 0
    assert written == len(events), f"events written: {written}, lines: {len(events)}"


def test_pipe_reader_leaves(spawn):
    """`procmon | head -1`: once head has gone, procmon's next write gets
    EPIPE and it exits with status 1 promptly; it does not hang."""
    d = spawn(stdout=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=d.proc.stdout, stdout=subprocess.PIPE)
    d.proc.stdout.close()
    try:
        first, _ = head.communicate(timeout=30)
    finally:
        if head.poll() is None:
            head.kill()
            head.wait()
    parse_line(first)
    deadline = time.monotonic() + 10
    while d.proc.poll() is None and time.monotonic() < deadline:
        subprocess.run(["/bin/true"], check=True)  # events to write into the pipe
    rc = d.wait_exit(timeout=1)
    assert rc == 1, f"exit status {rc}; stderr:\n{d.stderr[-2000:]}"


def test_stdout_closed(spawn):
    """Started with stdout closed (`procmon >&-`) and events going to
    stdout: exit 1 with a message, instead of writing events into whatever
    file later takes descriptor 1."""
    d = spawn(stdout=None, preexec_fn=lambda: os.close(1))
    if d.ready_or_exit():
        raise AssertionError(f"procmon started with stdout closed; stderr:\n{d.stderr}")
    rc = d.wait_exit()
    assert rc == 1, f"exit status {rc}; stderr:\n{d.stderr}"
    assert d.stderr.strip(), "no message"


def test_stdin_stderr_closed(tmp_path, spawn):
    """stdin and stderr closed, --output FILE: procmon runs normally and
    the file holds whole, valid events (no diagnostics mixed in)."""
    out = tmp_path / "events.jsonl"

    def close_0_2():
        os.close(0)
        os.close(2)

    d = spawn("--output", out, stdin=None, stderr=None, preexec_fn=close_0_2)
    # no stderr, no ready line: ExistingProcess lines come once attached
    wait_file(lambda: out.exists() and out.stat().st_size > 0 or d.proc.poll() is not None,
              "the first events in the file", timeout=20)
    assert d.proc.poll() is None, f"procmon exited {d.proc.returncode}"
    tag = marker()
    wait_file(lambda: file_has(out, tag.encode()) or d.proc.poll() is not None,
              "the marker exec in the file")
    rc = d.stop()
    assert rc == 0, f"exit status {rc}"
    events = read_lines(out)
    assert any(e.get("type") == "ProcessExec" and e["process"].get("args") == tag
               for e in events), "marker exec missing"
