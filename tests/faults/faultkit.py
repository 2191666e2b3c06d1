"""What the fault tests share beyond tests/integration/helpers.py.

helpers.py (imported from tests/integration, see conftest.py) runs procmon
with its stdout on a pipe and parses lines strictly; the faults need
procmon with other stdouts (/dev/full, a closed descriptor, a pipe into
`head`), with resource limits, and need to read output files and the exit
report. Everything here waits on procmon's `ready` line, on its exit, or
polls a file against a deadline; nothing sleeps to synchronise.
"""

import os
import re
import signal
import subprocess
import threading
import time
import uuid

import helpers
from helpers import (
    NOBODY, PROCMON, READY_RE, READY_TIMEOUT, STOP_TIMEOUT, BadLine, parse_line, prog,
)


# "procmon: at exit: events lost: kernel exec=0 ..., user space=0,
#  malformed=0, output=0; events written: 123; hashes skipped: 0"
# Tolerant of fields added anywhere: only output= and events written: matter.
REPORT_RE = re.compile(r"at exit: events lost: (?P<lost>.*?); events written: (?P<written>\d+)")
OUTPUT_LOST_RE = re.compile(r"\boutput=(\d+)")


def exit_report(stderr_text):
    """(output lines lost, events written) from the exit report; fails without one."""
    reports = [m for m in REPORT_RE.finditer(stderr_text)]
    assert reports, f"no exit report on stderr:\n{stderr_text[-2000:]}"
    m = reports[-1]
    lost = OUTPUT_LOST_RE.search(m.group("lost"))
    assert lost, f"exit report without output=N: {m.group(0)}"
    return int(lost.group(1)), int(m.group("written"))


class Daemon:
    """build/procmon with any stdout, stdin and resource limits; stderr is
    collected by a thread (unless it is closed), `ready` awaited on it."""

    def __init__(self, *args, stdout=subprocess.DEVNULL, preexec_fn=None,
                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL):
        self.args = [str(PROCMON), *map(str, args)]
        self.lines = []
        self.cond = threading.Condition()
        self.ready = False
        self.stderr_done = stderr != subprocess.PIPE
        self.proc = subprocess.Popen(self.args, stdin=stdin, stdout=stdout,
                                     stderr=stderr, preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self._thread = None
        if stderr == subprocess.PIPE:
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                if READY_RE.search(line):
                    self.ready = True
                self.cond.notify_all()
        with self.cond:
            self.stderr_done = True
            self.cond.notify_all()

    @property
    def stderr(self):
        with self.cond:
            return "\n".join(self.lines)

    def ready_or_exit(self, timeout=READY_TIMEOUT):
        """Wait for the ready line or the end of stderr (procmon exited):
        True when ready."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.ready and not self.stderr_done:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return self.ready

    def wait_ready(self, timeout=READY_TIMEOUT):
        if not self.ready_or_exit(timeout):
            self.kill()
            raise AssertionError(f"procmon not ready (status {self.proc.poll()}); "
                                 f"stderr:\n{self.stderr[-2000:]}")
        return self

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"procmon still running after {timeout}s; "
                                 f"stderr:\n{self.stderr[-2000:]}")
        if self._thread:
            self._thread.join(timeout)
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait_stderr(self, pred, what, timeout=10):
        """The first stderr line matching pred, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.stderr_done:
                    raise AssertionError(f"no stderr line with {what}; stderr:\n"
                                         f"{chr(10).join(self.lines[-20:])}")
                self.cond.wait(left)

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))


def refused(args, **kw):
    """Run procmon expecting a refusal before `ready`: (status, stderr).
    Fails (after stopping it) if it got ready instead."""
    d = Daemon(*args, **kw)
    try:
        if d.ready_or_exit():
            raise AssertionError(f"procmon {args} started (expected a refusal); "
                                 f"stderr:\n{d.stderr[-2000:]}")
        return d.wait_exit(), d.stderr
    finally:
        d.kill()


# --------------------------------------------------------------------------
# Output files


def read_lines(path):
    """Every line of an output file, strictly parsed; the file must end on a
    line boundary. Returns the parsed events."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_all(data, str(path))


def parse_all(data, where):
    assert not data or data.endswith(b"\n"), \
        f"{where} does not end on a line boundary: ...{data[-300:]!r}"
    events = []
    for i, raw in enumerate(data.splitlines(keepends=True)):
        try:
            events.append(parse_line(raw))
        except BadLine as e:
            raise AssertionError(f"{where} line {i + 1}: {e}: {raw[:400]!r}") from None
    return events


def wait_file(pred, what, timeout=10):
    """Poll until pred() is true (a file to appear, grow, contain ...)."""
    return helpers.wait_until(pred, what, timeout)


def file_has(path, needle, chunk=1 << 20):
    """True when the file holds needle; read a chunk at a time (it is
    polled, and the file may hold a busy host's events)."""
    try:
        with open(path, "rb") as f:
            tail = b""
            while block := f.read(chunk):
                if needle in tail + block:
                    return True
                tail = block[-(len(needle) - 1):] if len(needle) > 1 else b""
    except FileNotFoundError:
        pass
    return False


# --------------------------------------------------------------------------
# Triggers


def marker():
    """Run /bin/true with a unique argument; that argument."""
    tag = f"marker-{uuid.uuid4().hex}"
    subprocess.run(["/bin/true", tag], check=True)
    return tag


def is_exec_with_args(ev, args):
    return ev.get("type") == "ProcessExec" and ev.get("process", {}).get("args") == args


def start_storm(n):
    """Start the tagged exec storm (tests/progs/storm.c): (Popen, tag)."""
    tag = f"storm-{uuid.uuid4().hex[:12]}"
    p = subprocess.Popen([prog("storm"), tag, str(n)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, tag


def finish_storm(p, timeout=120):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"storm failed ({p.returncode}): {err!r}"


def storm_counts(events, tag):
    """{i: number of ProcessExec events of storm exec i}"""
    counts = {}
    prefix = tag + " "
    for ev in events:
        if ev.get("type") != "ProcessExec":
            continue
        proc = ev.get("process", {})
        args = proc.get("args", "")
        # the storm's own exec ("storm TAG N") has the same prefix
        if proc.get("filename") == "true" and args.startswith(prefix):
            i = int(args[len(prefix):])
            counts[i] = counts.get(i, 0) + 1
    return counts
