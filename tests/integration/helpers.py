"""Shared helpers for the procmon integration tests.

Everything here is plain standard library: running build/procmon, parsing
its output strictly, and the expected values the tests compare against
(capability names, UTF-8 replacement, /proc facts about this process).
"""

import array
import collections
import datetime
import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROCMON = REPO / "build" / "procmon"
PROGS = REPO / "build" / "progs"
# Where the trigger programs run from: a root-owned 0755 copy of PROGS made
# for the session (conftest.py), since runas execs them as uid 65534, which
# may not be able to traverse the checkout (a 0700 home or mktemp -d).
progs_dir = PROGS

READY_TIMEOUT = 20  # seconds for procmon to attach and scan /proc
# seconds for one awaited event: a bound for a hang, not a latency target.
# On a loaded 2-core host the shared procmon sees every process of the
# machine, and this harness parses each line before it reaches the test's
# event; 10 s was lost there under load.
EVENT_TIMEOUT = 30
STOP_TIMEOUT = 10   # seconds for procmon to exit after SIGTERM/SIGINT
F_SETPIPE_SZ = 1031

ARGS_MAX = 32768    # PM_ARGS_MAX: bytes of argv (argv[0] included, NULs counted) copied at exec

NOBODY = 65534
AUID_UNSET = 4294967295

READY_RE = re.compile(r"\bready\b")  # the word, not "already"
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
CAPS_RE = re.compile(r"^(|ALL_CAPS|CAP_[A-Z0-9_]+( \| CAP_[A-Z0-9_]+)*)$")
SECUREEXEC_FLAGS = ("SETUID", "SETGID", "FILE_CAPS", "FILELESS_EXEC")
EVENT_TYPES = ("ProcessExec", "ProcessClone", "ProcessExit")

# Capability names by bit, as <linux/capability.h> (0 .. 40).
CAP_NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
CAP_NET_RAW = 13


# --------------------------------------------------------------------------
# Strict parsing of one output line


class BadLine(ValueError):
    pass


def _reject_constant(name):
    raise BadLine(f"non-JSON constant {name}")


def _no_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise BadLine(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_lone_surrogates(value):
    # json.loads accepts "\ud800"; such a string is not valid Unicode text.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise BadLine(f"escaped lone surrogate in {value!r}") from e
    elif isinstance(value, dict):
        for k, v in value.items():
            _reject_lone_surrogates(k)
            _reject_lone_surrogates(v)
    elif isinstance(value, list):
        for v in value:
            _reject_lone_surrogates(v)


# Only a \uD800-\uDFFF escape decodes to a surrogate (raw ones are invalid UTF-8).
SURROGATE_ESCAPE_RE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_line(raw: bytes) -> dict:
    """One event line -> dict, or BadLine: strict UTF-8, RFC 8259, one object."""
    if not raw.endswith(b"\n"):
        raise BadLine("line is not newline-terminated (partial write?)")
    try:
        text = raw[:-1].decode("utf-8")  # strict: any invalid byte fails
    except UnicodeDecodeError as e:
        raise BadLine(f"invalid UTF-8: {e}") from e
    try:
        # strict=True (the default) rejects raw control characters in strings.
        obj = json.loads(text, parse_constant=_reject_constant,
                         object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as e:
        raise BadLine(f"invalid JSON: {e}") from e
    if SURROGATE_ESCAPE_RE.search(raw):  # the walk costs half the parse
        _reject_lone_surrogates(obj)
    if not isinstance(obj, dict):
        raise BadLine(f"not a JSON object: {type(obj).__name__}")
    return obj


# --------------------------------------------------------------------------
# A running procmon


class Event(dict):
    """One parsed event; .index is its line number in procmon's output, so
    a test can order events it found (index_of) without the harness
    keeping every event object alive."""

    __slots__ = ("index",)


class EventLog:
    """procmon's output as a sequence of events, read back from the spool
    file: len() counts lines, iteration and indexing give the parsed
    events (invalid lines are left out, they are in bad_lines)."""

    def __init__(self, procmon):
        self._pm = procmon

    def __len__(self):
        return self._pm.mark()

    def __bool__(self):
        return len(self) > 0

    def __iter__(self):
        return self._pm._iter(0, len(self))

    def __getitem__(self, key):
        if isinstance(key, slice):
            return list(self._pm._iter(*key.indices(len(self))[:2]))
        return self._pm._get(key if key >= 0 else len(self) + key)

    def __eq__(self, other):
        return list(self) == other


class Procmon:
    """build/procmon as a child process. Its stdout goes, unparsed, to an
    unlinked spool file by a thread that does nothing else, so procmon
    never waits on the pipe while the tests parse (a reader that parsed as
    it went fell behind under load: a shared procmon sees every process of
    the host, and under an exec storm the line a test waited for was still
    unread minutes later). Lines are parsed when a test looks at them, a
    bounded window of them cached: memory stays flat however long the run;
    the spool file in the temp directory holds the run's output.

    events is the output in order; an index into it (a "mark") lets a test
    look only at what came after it started.
    """

    PIPE_SIZE = 1 << 20   # absorbs bursts while the spool thread is descheduled
    # Parsed events kept: at most this many lines and this many bytes of
    # them (a parsed event takes a few times its line; hostile tests write
    # 100 KB lines).
    CACHE = 2048
    CACHE_BYTES = 8 << 20
    CHUNK = 1 << 20

    def __init__(self, *args):
        assert PROCMON.exists(), f"{PROCMON} is missing: run `make`"
        self.args = [str(PROCMON), *map(str, args)]
        self.events = EventLog(self)
        self.stderr_lines = []
        self.stdout_closed = False
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self._ends = array.array("Q")    # end offset of each line in the spool
        self._spool = tempfile.TemporaryFile(prefix="procmon-events-")
        self._cache = collections.OrderedDict()   # index -> (Event or None if bad, bytes)
        self._cache_bytes = 0
        self._bad = {}                   # index -> (raw line, reason)
        self._checked = 0                # lines below this are validated
        self._parse_lock = threading.RLock()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        try:
            fcntl.fcntl(self.proc.stdout.fileno(), F_SETPIPE_SZ, self.PIPE_SIZE)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size: the default pipe serves
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- reader threads

    def _read_stdout(self):
        fd, out = self.proc.stdout.fileno(), self._spool.fileno()
        pos = 0
        while chunk := os.read(fd, self.CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
            ends = []
            j = chunk.find(b"\n")
            while j >= 0:
                ends.append(pos + j + 1)
                j = chunk.find(b"\n", j + 1)
            pos += len(chunk)
            if ends:
                with self.cond:
                    self._ends.extend(ends)
                    self.cond.notify_all()
        with self.cond:
            if pos > (self._ends[-1] if self._ends else 0):
                self._ends.append(pos)  # a last line without its newline: bad
            self.stdout_closed = True
            self.cond.notify_all()

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.stderr_lines.append(line)
                self.cond.notify_all()
            if READY_RE.search(line):
                self.ready.set()
        self.ready.set()  # unblock wait_ready; it then sees the exit

    # -- the spooled output

    def _load(self, start, end):
        """Parse lines [start, end) not in the cache, in one read."""
        with self.cond:
            ends = self._ends[start:end]
            first = self._ends[start - 1] if start else 0
        data = os.pread(self._spool.fileno(), ends[-1] - first, first)
        at = 0
        for i, e in enumerate(ends, start):
            raw = data[at:e - first]
            at = e - first
            try:
                ev = Event(parse_line(raw))
                ev.index = i
            except BadLine as err:
                ev = None
                self._bad[i] = (raw, str(err))
            old = self._cache.pop(i, None)
            if old:
                self._cache_bytes -= old[1]
            self._cache[i] = (ev, len(raw))
            self._cache_bytes += len(raw)
        # the batch just parsed stays, whatever its size
        while len(self._cache) > max(self.CACHE, len(ends)) or \
                (self._cache_bytes > self.CACHE_BYTES and len(self._cache) > len(ends)):
            self._cache_bytes -= self._cache.popitem(last=False)[1][1]

    def _iter(self, start, end, batch=256):
        """The valid events of lines [start, end), parsed in batches."""
        i = start
        while i < end:
            n = min(batch, end - i)
            with self._parse_lock:
                if any(k not in self._cache for k in range(i, i + n)):
                    self._load(i, i + n)
                got = [self._cache[k][0] for k in range(i, i + n)]
                if i <= self._checked < i + n:
                    self._checked = i + n
            yield from (ev for ev in got if ev is not None)
            i += n

    def _get(self, i):
        if not 0 <= i < self.mark():
            raise IndexError(i)
        with self._parse_lock:
            if i not in self._cache:
                self._load(i, i + 1)
            return self._cache[i][0]

    def _validate(self):
        """Parse every line not checked yet, recording the invalid ones."""
        for _ in self._iter(self._checked, self.mark()):
            pass

    @property
    def bad_lines(self):
        """(raw line, reason) of every invalid line so far."""
        self._validate()
        with self._parse_lock:
            return [self._bad[i] for i in sorted(self._bad)]

    # -- life cycle

    def stderr_tail(self, n=20):
        with self.cond:
            return "\n".join(self.stderr_lines[-n:])

    def wait_stderr(self, pred, timeout=EVENT_TIMEOUT):
        """The first stderr line for which pred is true, waited for."""
        def found():
            return next((l for l in self.stderr_lines if pred(l)), None)
        with self.cond:
            line = self.cond.wait_for(found, timeout)
        assert line is not None, f"no such line on stderr:\n{self.stderr_tail()}"
        return line

    def wait_ready(self, timeout=READY_TIMEOUT):
        if not self.ready.wait(timeout):
            self.kill()
            raise AssertionError(
                f"procmon printed no 'ready' line within {timeout}s; "
                f"stderr:\n{self.stderr_tail()}")
        with self.cond:
            saw_ready = any(READY_RE.search(l) for l in self.stderr_lines)
        if not saw_ready:  # stderr closed: procmon is gone
            self.kill()
            raise AssertionError(
                f"procmon exited with status {self.proc.returncode} before "
                f"'ready'; stderr:\n{self.stderr_tail()}")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send sig, wait for the exit and for the readers; returns the status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"procmon did not exit within {timeout}s of {sig.name}; "
                f"stderr:\n{self.stderr_tail()}")
        for t in self._threads:
            t.join(timeout)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- events

    def mark(self):
        with self.cond:
            return len(self._ends)

    def check_health(self, bad_since=0):
        """Fail at once on a bad output line (at or after line bad_since)
        or a dead procmon."""
        self._validate()
        with self._parse_lock:
            bad = next((self._bad[i] for i in sorted(self._bad) if i >= bad_since), None)
        if bad:
            raw, reason = bad
            raise AssertionError(
                f"procmon wrote an invalid line ({reason}): {raw[:600]!r}")
        if self.stdout_closed:
            raise AssertionError(
                f"procmon's output ended (exit status {self.proc.poll()}); "
                f"stderr:\n{self.stderr_tail()}")

    def find(self, pred, since=0):
        return [e for e in self._iter(since, self.mark()) if pred(e)]

    def index_of(self, event, since=0):
        """Position of this event in the output."""
        i = getattr(event, "index", None)
        if i is not None and since <= i < self.mark():
            return i
        raise AssertionError("event not in the output list")

    def wait_for(self, pred, timeout=EVENT_TIMEOUT, since=0, what="event",
                 bad_since=0):
        """The first event after `since` matching pred, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        scanned = since
        while True:
            end = self.mark()
            for ev in self._iter(scanned, end):
                if pred(ev):
                    return ev
            scanned = end
            self.check_health(bad_since)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with self.cond:
                self.cond.wait_for(lambda: len(self._ends) > scanned
                                   or self.stdout_closed, left)
        count = self.mark()
        recent = list(self._iter(max(since, count - 5), count))
        shown = "\n".join(json.dumps(e)[:800] for e in recent)
        raise AssertionError(
            f"no {what} within {timeout}s ({count - since} events "
            f"since the test started); last events:\n{shown}")


class ProcmonView:
    """A test's window on the shared procmon: only events since it started."""

    def __init__(self, procmon):
        self.procmon = procmon
        self.start = procmon.mark()
        self.bad_start = self.start

    def check_health(self):
        self.procmon.check_health(self.bad_start)

    def wait_for(self, pred, timeout=EVENT_TIMEOUT, what="event"):
        return self.procmon.wait_for(pred, timeout, self.start, what,
                                     self.bad_start)

    def find(self, pred):
        return self.procmon.find(pred, self.start)

    def index_of(self, event):
        return self.procmon.index_of(event, self.start)

    def wait_event(self, etype, pid, where=None, timeout=EVENT_TIMEOUT):
        """The first etype event whose process has this pid (and matches where)."""
        return self.wait_for(
            lambda e: is_event(e, etype, pid) and (where is None or where(e)),
            timeout, what=f"{etype} for pid {pid}")

    def events_of(self, etype, pid):
        return self.find(lambda e: is_event(e, etype, pid))


def is_event(ev, etype, pid):
    proc = ev.get("process")
    return (ev.get("type") == etype and isinstance(proc, dict)
            and proc.get("pid") == pid)


# --------------------------------------------------------------------------
# Shape of events: every field present with the right type and format


_INT_FIELDS = ("pid", "tid", "ppid", "uid", "euid", "gid", "egid", "auid")
_STR_FIELDS = ("start_time", "cap_effective", "cap_permitted",
               "cap_inheritable", "secureexec", "filename", "binary_path",
               "args", "exec_id")
_FLAG_FIELDS = ("args_truncated", "binary_path_truncated", "binary_deleted",
                "args_from_proc")


def check_process_shape(p, where="process"):
    assert isinstance(p, dict), f"{where} is not an object: {p!r}"
    for k in _INT_FIELDS:
        assert type(p.get(k)) is int, f"{where}.{k} not a number: {p!r}"
        assert 0 <= p[k] <= 0xFFFFFFFF, f"{where}.{k} out of range: {p[k]}"
    for k in _STR_FIELDS:
        assert type(p.get(k)) is str, f"{where}.{k} not a string: {p!r}"
    assert type(p.get("cloned")) is bool, f"{where}.cloned not a bool: {p!r}"
    assert TIME_RE.match(p["start_time"]), f"{where}.start_time: {p['start_time']!r}"
    assert p["exec_id"], f"{where}.exec_id is empty"
    for k in ("cap_effective", "cap_permitted", "cap_inheritable"):
        assert CAPS_RE.match(p[k]), f"{where}.{k}: {p[k]!r}"
    flags = p["secureexec"].split(" | ") if p["secureexec"] else []
    assert set(flags) <= set(SECUREEXEC_FLAGS) and len(set(flags)) == len(flags), \
        f"{where}.secureexec: {p['secureexec']!r}"
    if "binary_ima_hash" in p:
        assert HASH_RE.match(str(p["binary_ima_hash"])), \
            f"{where}.binary_ima_hash: {p['binary_ima_hash']!r}"
    if "container_id" in p:
        assert type(p["container_id"]) is str and p["container_id"]
    for k in _FLAG_FIELDS:
        # Flags are present only when true.
        assert p.get(k, True) is True, f"{where}.{k} present but not true: {p[k]!r}"


def check_event_shape(ev):
    assert ev.get("type") in EVENT_TYPES, f"type: {ev.get('type')!r}"
    assert TIME_RE.match(str(ev.get("timestamp"))), f"timestamp: {ev.get('timestamp')!r}"
    check_process_shape(ev.get("process"))
    assert "parent" in ev, "no parent member"
    if ev["parent"] is not None:
        check_process_shape(ev["parent"], "parent")
    if ev["type"] == "ProcessExit":
        assert type(ev.get("exit_code")) is int, f"exit_code: {ev.get('exit_code')!r}"
        assert type(ev.get("signal")) is str and re.match(r"^(|SIG[A-Z0-9+-]+)$", ev["signal"]), \
            f"signal: {ev.get('signal')!r}"
    else:
        assert "exit_code" not in ev and "signal" not in ev


def secureexec_flags(p):
    return set(p["secureexec"].split(" | ")) if p["secureexec"] else set()


def parse_time(s):
    """RFC 3339 'YYYY-MM-DDTHH:MM:SS.mmmZ' -> seconds since the epoch."""
    dt = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


# --------------------------------------------------------------------------
# Expected values


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def assert_hash_if_present(p, expected, where="process"):
    """binary_ima_hash may be absent, but never the hash of other content."""
    if "binary_ima_hash" in p:
        assert p["binary_ima_hash"] == expected, \
            f"{where}.binary_ima_hash {p['binary_ima_hash']} != {expected}"


def cap_last():
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def fmt_caps(mask):
    """A capability mask as procmon prints it (contract 5.1)."""
    full = (1 << (cap_last() + 1)) - 1
    if mask == full:
        return "ALL_CAPS"
    return " | ".join(CAP_NAMES[b] if b < len(CAP_NAMES) else f"CAP_{b}"
                      for b in range(64) if mask >> b & 1)


def proc_caps(pid="self"):
    """{'CapInh': int, 'CapPrm': ..., 'CapEff': ..., 'CapBnd': ...}"""
    caps = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.startswith("Cap"):
                caps[key] = int(value, 16)
    return caps


def loginuid(pid="self"):
    with open(f"/proc/{pid}/loginuid") as f:
        return int(f.read())


def proc_args(pid="self"):
    """argv[1..] joined by spaces, from /proc/PID/cmdline."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")[:-1]
    return replace_invalid_utf8(b" ".join(argv[1:]))


def replace_invalid_utf8(data: bytes) -> str:
    """Decode like procmon: each byte that does not start or continue a valid
    UTF-8 sequence becomes one U+FFFD (so a truncated 3-byte sequence gives
    two of them, unlike Python's errors='replace')."""
    out = []
    i = 0
    while i < len(data):
        b = data[i]
        n = 1 if b < 0x80 else 2 if 0xC2 <= b <= 0xDF else \
            3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        if n:
            try:
                # Python's strict decoder rejects overlongs, surrogates and > U+10FFFF.
                out.append(data[i:i + n].decode("utf-8"))
                i += n
                continue
            except UnicodeDecodeError:
                pass
        out.append("\ufffd")
        i += 1
    return "".join(out)


def hex_lines(stdout: bytes, tag: str):
    """Values of 'TAG HEX' lines as bytes, in order."""
    return [bytes.fromhex(line[len(tag) + 1:].decode())
            for line in stdout.splitlines()
            if line.startswith(tag.encode() + b" ")]


def tagged_ints(stdout: bytes):
    """{'tag': int} from 'TAG NUMBER' lines."""
    out = {}
    for line in stdout.decode().splitlines():
        tag, _, value = line.partition(" ")
        if value.isdigit():
            out[tag] = int(value)
    return out


_ABSENT = "<absent>"


def assert_fields(obj, expected, where):
    """Every expected field equal; all mismatches reported at once."""
    diffs = {k: (obj.get(k, _ABSENT), v) for k, v in expected.items()
             if obj.get(k, _ABSENT) != v}
    assert not diffs, (f"{where}: mismatching fields as {{name: (observed, "
                       f"expected)}}: {diffs}")


def this_process():
    """The process object procmon should report for this pytest process."""
    exe = os.readlink("/proc/self/exe")
    caps = proc_caps()
    uid, euid, _ = os.getresuid()
    gid, egid, _ = os.getresgid()
    return {
        "pid": os.getpid(), "tid": os.getpid(), "ppid": os.getppid(),
        "uid": uid, "euid": euid, "gid": gid, "egid": egid,
        "auid": loginuid(), "cloned": False, "secureexec": "",
        "filename": os.path.basename(exe), "binary_path": exe,
        "args": proc_args(),
        "cap_effective": fmt_caps(caps["CapEff"]),
        "cap_permitted": fmt_caps(caps["CapPrm"]),
        "cap_inheritable": fmt_caps(caps["CapInh"]),
    }


def this_process_start():
    """When this process started, seconds since the epoch (/proc, ~10 ms)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    ticks = int(fields[19])  # field 22, starttime, counted after "comm)"
    with open("/proc/stat") as f:
        btime = next(int(l.split()[1]) for l in f if l.startswith("btime "))
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def root_exec_caps():
    """Capabilities of a program exec'd by root from this process: the
    kernel gives root pP' = pI | bounding set, pE' = pP', pI' = pI."""
    caps = proc_caps()
    gained = caps["CapInh"] | caps["CapBnd"]
    return {"cap_permitted": fmt_caps(gained), "cap_effective": fmt_caps(gained),
            "cap_inheritable": fmt_caps(caps["CapInh"])}


def prog(name):
    """A trigger program by name (the session's copy of build/progs/NAME,
    runnable by any user), or any path."""
    if "/" in str(name):
        return str(name)
    path = progs_dir / name
    assert path.exists(), f"{path} is missing: run `make progs`"
    return str(path)


class Run:
    def __init__(self, pid, stdout, stderr, returncode):
        self.pid, self.stdout, self.stderr = pid, stdout, stderr
        self.returncode = returncode


def run_prog(name, *args, input=None, timeout=60, expect_status=0):
    """Run a trigger to completion; its pid is the pid of its events."""
    p = subprocess.Popen([prog(name), *args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(input, timeout)
    assert p.returncode == expect_status, \
        f"{name} exited {p.returncode}: {err.decode(errors='replace')}"
    return Run(p.pid, out, err, p.returncode)


def run_procmon_to_exit(args, timeout=STOP_TIMEOUT):
    """Run procmon expecting it to exit by itself; returns (status, stderr)."""
    p = subprocess.Popen([str(PROCMON), *map(str, args)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate()
        raise AssertionError(
            f"procmon {args} kept running (expected it to refuse to start); "
            f"stderr:\n{err.decode(errors='replace')}")
    return p.returncode, err.decode("utf-8", "replace")


def environment_problem(what, needs=()):
    """Why the tests of `what` cannot run here, or None; `needs`: more
    programs they run, by absolute path."""
    missing = [p for p in needs if not os.path.exists(p)]
    if missing:
        return f"procmon {what} tests need {', '.join(missing)} (scripts/install-deps.sh)"
    if os.geteuid() != 0:
        return f"procmon {what} tests need root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return f"procmon {what} tests need a kernel with BTF (/sys/kernel/btf/vmlinux)"
    return None


def skip_all_unless_runnable(items, what, needs=()):
    """Skipped, not failed, so a developer without root sees why; CI treats
    any skipped test as a failure. Only the items under tests/<what>."""
    reason = environment_problem(what, needs)
    if reason:
        for item in items:
            if f"/tests/{what}/" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


def wait_until(pred, what, timeout=EVENT_TIMEOUT, interval=0.02):
    """Wait for a condition on the outside world (a file growing, a server's
    state): pred() is checked every `interval` until it is true, or the
    test fails after `timeout` naming `what`. The condition is the
    synchronisation, not the time. Returns pred()'s value."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
