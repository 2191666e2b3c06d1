"""Log rotation under an exec storm: `mv` + SIGHUP, logrotate's `create`
(postrotate SIGHUP) and `copytruncate`, and SIGHUP fifty times.

The storm (tests/progs/storm.c) tags every exec "TAG I", so each one can
be looked for across the current file and every rotated one. Rotations
happen while the storm runs: each waits until the current file has grown
by ROTATE_BYTES, polled against a deadline.
"""

import os
import signal
import subprocess

from faultkit import (
    exit_report, file_has, finish_storm, marker, read_lines, start_storm,
    storm_counts, wait_file,
)

STORM = 300
ROTATE_BYTES = 48 << 10
LOGROTATE = "/usr/sbin/logrotate"


def grown(out, since, storm):
    """out has ROTATE_BYTES more than `since`, or the storm is over."""
    def check():
        try:
            return os.path.getsize(out) >= since + ROTATE_BYTES or storm.poll() is not None
        except FileNotFoundError:
            return False
    return check


def all_files(out):
    """The output file and every rotated copy of it."""
    return [p for p in out.parent.iterdir() if p.name.startswith(out.name)]


def collect(out):
    events = []
    for path in all_files(out):
        events += read_lines(path)  # strict: whole lines only, in every file
    return events


def assert_exactly_once(events, tag):
    counts = storm_counts(events, tag)
    missing = [i for i in range(STORM) if i not in counts]
    dup = {i: n for i, n in counts.items() if n > 1}
    assert not missing and not dup, \
        f"storm execs missing: {missing[:20]} ({len(missing)}), duplicated: {dup}"


def rotate_under_storm(tmp_path, spawn, rotate, rotations=5):
    """Start procmon and a storm, call rotate(i) `rotations` times while it
    runs, stop procmon. (tag, events of all files, stderr)."""
    out = tmp_path / "events.jsonl"
    d = spawn("--output", out).wait_ready()
    storm, tag = start_storm(STORM)
    try:
        size = os.path.getsize(out)
        for i in range(rotations):
            wait_file(grown(out, size, storm), f"{out} to grow before rotation {i}", timeout=60)
            rotate(i, out, d)
            wait_file(out.exists, f"a new {out} after rotation {i}")
            size = os.path.getsize(out)
    finally:
        finish_storm(storm)
    assert d.stop() == 0, d.stderr[-2000:]
    return out, tag, collect(out), d.stderr


def mv_and_hup(i, out, d):
    os.rename(out, out.with_name(f"{out.name}.{i + 1}"))
    d.proc.send_signal(signal.SIGHUP)


def test_rotation_mv_sighup(tmp_path, spawn):
    """mv + SIGHUP: lines go to the old file until the reopen, then to the
    new one; every exec of the storm is in exactly one of them."""
    out, tag, events, stderr = rotate_under_storm(tmp_path, spawn, mv_and_hup)
    assert len(all_files(out)) == 6
    assert_exactly_once(events, tag)
    lost, written = exit_report(stderr)
    assert lost == 0 and written == len(events), (lost, written, len(events))


def logrotate_conf(tmp_path, out, body):
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{out} {{\n    rotate 100\n    missingok\n{body}}}\n")
    conf.chmod(0o644)
    return conf


def run_logrotate(tmp_path, conf):
    r = subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, f"logrotate failed: {r.stderr.decode(errors='replace')}"


def test_logrotate_create(tmp_path, spawn):
    """logrotate `create`: it renames the file, creates a new 0600 one and
    its postrotate script sends SIGHUP: every exec exactly once."""
    def rotate(i, out, d):
        body = ("    create 0600 root root\n    postrotate\n"
                f"        /bin/kill -HUP {d.pid}\n    endscript\n")
        run_logrotate(tmp_path, logrotate_conf(tmp_path, out, body))

    out, tag, events, stderr = rotate_under_storm(tmp_path, spawn, rotate)
    assert len(all_files(out)) == 6
    assert_exactly_once(events, tag)
    lost, written = exit_report(stderr)
    assert lost == 0 and written == len(events), (lost, written, len(events))


def test_logrotate_copytruncate(tmp_path, spawn):
    """logrotate `copytruncate`: it copies the file, then truncates it in
    place; procmon keeps its descriptor (O_APPEND, so it writes at the new
    end). logrotate documents that lines written between the copy and the
    truncation are lost, so only: no duplicates, no partial lines."""
    def rotate(i, out, d):
        run_logrotate(tmp_path, logrotate_conf(tmp_path, out, "    copytruncate\n"))

    out, tag, events, stderr = rotate_under_storm(tmp_path, spawn, rotate)
    assert len(all_files(out)) == 6
    counts = storm_counts(events, tag)
    dup = {i: n for i, n in counts.items() if n > 1}
    assert not dup, f"storm execs duplicated: {dup}"
    assert counts, "no storm exec in any file"
    lost, written = exit_report(stderr)
    assert written >= len(events)


def test_sighup_50_times_fd_count_flat(tmp_path, spawn):
    """Fifty mv + SIGHUP rotations under an exec storm: each one makes a
    new file (the sign it was handled), no descriptor leaks, and the storm
    is complete across the 51 files."""
    out = tmp_path / "events.jsonl"
    d = spawn("--output", out).wait_ready()
    tag0 = marker()
    wait_file(lambda: file_has(out, tag0.encode()), "the first marker exec")
    before = min(d.fd_count() for _ in range(10))
    storm, tag = start_storm(STORM)
    try:
        for i in range(50):
            mv_and_hup(i, out, d)
            wait_file(out.exists, f"the file reopened after SIGHUP {i + 1}")
    finally:
        finish_storm(storm)
    # quiet again: the storm is over and its events are out
    tag2 = marker()
    wait_file(lambda: file_has(out, tag2.encode()), "the marker exec")
    # the fewest of a few looks: the hash worker opens binaries for a moment
    after = min(d.fd_count() for _ in range(10))
    open_files = []
    for fd in os.listdir(f"/proc/{d.pid}/fd"):
        try:
            open_files.append(os.readlink(f"/proc/{d.pid}/fd/{fd}"))
        except OSError:
            pass  # closed meanwhile
    assert d.stop() == 0, d.stderr[-2000:]
    # a leak adds descriptors; fewer after is a hash (of another process's
    # binary, on a busy host) that was open in every look before
    assert after <= before, f"{before} descriptors before 50 SIGHUPs, {after} after"
    assert [p for p in open_files if p.startswith(str(tmp_path))] == [str(out)], open_files
    events = collect(out)
    assert len(all_files(out)) == 51
    # the storm: exactly once (it may have ended before the 50th rotation)
    counts = storm_counts(events, tag)
    assert all(n == 1 for n in counts.values()) and len(counts) == STORM, \
        f"{len(counts)} of {STORM} storm execs, duplicates: " \
        f"{ {i: n for i, n in counts.items() if n > 1} }"
