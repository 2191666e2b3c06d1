#!/usr/bin/python3
"""procmon benchmark suite: procmon side by side with auditd and execsnoop.

    make bench                                 (builds build/procmon first)
    ROUNDS=3 make bench
    PROCMON=/path/to/procmon /usr/bin/python3 bench/suite.py

Needs root. Installs what is missing of auditd and libbpf-tools (execsnoop)
with apt-get, mounts tracefs if it is not mounted, compiles its helpers
(bench/*.c) with gcc into build/bench/, and writes build/bench/results.json.
docs/performance.md says what each figure means and how it is taken.

Workloads, each timed with every monitor mode (off, procmon, auditd,
execsnoop) once per round, in an order that rotates from round to round:
  exec      one exec storm: N x fork + execve(/bin/true bench exec-storm) + wait
  exec2     two exec storms in parallel (time: the slower)
  getppid   GETPPID_N raw getppid() calls, a syscall no monitor watches
  openmap   OPENMAP_N x (open + mmap + munmap + close of OPENMAP_PATH,
            dlopen + dlclose of OPENMAP_LIB)
  build     make -j BUILD_JOBS of procmon's own sources (git HEAD) into a
            fresh directory
Every timed run starts its monitor, lets it see one untimed pass of the
workload (a monitor runs for days: it has seen the job's programs before;
procmon has hashed them), then times a second pass. The first pass's time
is kept too ("1st-pass": its ratio, cold caches included).
Then procmon-only phases: ready time with IDLE_PROCS extra processes,
memory over MEM_LIFETIMES process lifetimes, a SOAK_S-second two-storm
no-loss soak, event latency through a FIFO during an LAT_N-exec storm, and
the fleet output (NATS JetStream, nats-server on loopback ports): CPU per
exec and storm time with NATS only against file only, procmon draining a
spool against a minimal libnats publisher (bench/nats_pub.c), and no loss
with two storms and with the server killed and restarted mid-storm.

Knobs (environment variables; empty means the default):
  PROCMON        build/procmon   the procmon binary measured
  ROUNDS         7        rounds of exec, exec2, getppid, openmap
  BUILD_ROUNDS   5        rounds of build
  N              3000     execs per storm (exec, exec2)
  GETPPID_N      4000000  getppid calls per run
  OPENMAP_N      15000    open/mmap/dlopen iterations per run
  OPENMAP_PATH   /etc/hostname   file opened and mapped
  OPENMAP_LIB    libz.so.1       library dlopen'ed (the loop does not link it)
  BUILD_JOBS     2        make -j for the build workload
  WORKLOADS      exec,exec2,getppid,openmap,build   which workloads, in order
  MONITORS       procmon,auditd,execsnoop           which monitors besides off
  READY_RUNS     3        ready-time runs (0 skips the phase)
  IDLE_PROCS     2000     extra idle processes during the ready-time runs
  MEM_LIFETIMES  100000   process lifetimes of the memory soak (0 skips it)
  MEM_STEP       10000    lifetimes between two RSS samples
  MEM_PAR        2        parallel fork loops in the memory soak
  SOAK_S         30       seconds of the two-storm no-loss soak (0 skips it)
  LAT_N          3000     execs of the latency storm (0 skips the phase)
  SETTLE         1.2      least seconds between a workload's end and stopping
                          its monitor (events may take 1 s to be written)
  KEEP           0        1 keeps the monitors' output files in build/bench/
  FLEET          1        0 skips the fleet output (NATS JetStream) phase
  FLEET_ROUNDS   5        rounds of the N-exec storm, procmon NATS only vs file only
  FLEET_DRAIN_ROUNDS 3    rounds of nats_pub vs procmon draining the spool
  FLEET_SPOOL_MB 100      MiB of real events spooled with the server down, then drained
  FLEET_PUB_N    200000   1 KiB messages nats_pub publishes per round
  FLEET_RESTART_N 6000    execs of the storm during which the server is restarted

Exit status: 0 when every measurement was taken (targets met or not), 1
when something could not be measured, 2 for bad knobs, 130 on Ctrl-C.
"""

import calendar
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "build", "bench")
AUDIT_DIR = os.path.join(DIR, "audit")
SRC_DIR = os.path.join(DIR, "src")
STORM = os.path.join(DIR, "exec_storm")
LOOP = os.path.join(DIR, "loop")
IDLE = os.path.join(DIR, "idle_procs")
EXECSNOOP = "/usr/sbin/execsnoop"

WINDOW = 0.25  # s, one CPU-idle check
IDLE_NS = 2_000_000  # less CPU than this in a window counts as idle

TARGET_RATIO = {"exec": 1.05, "exec2": 1.05, "getppid": 1.05, "openmap": 1.05, "build": 1.02}
TARGET_CPU_US = 20.0
TARGET_READY_S = 1.0
TARGET_RSS_KB = 32 * 1024
FLAT_KB = 1024  # "flat": over the second half of the memory soak RSS grows by at most this
TARGET_P99_MS = 50.0
TARGET_FLEET_CPU = 1.15  # procmon CPU per exec, NATS only / file only
TARGET_FLEET_WALL = 1.05  # storm wall time, NATS only / file only: "unchanged within noise"
TARGET_FLEET_FRACTION = 0.60  # procmon's spool drain rate / nats_pub's rate

KNOBS = {}


def die(msg, status=1):
    print(f"suite.py: {msg}", file=sys.stderr)
    sys.exit(status)


def knob(name, default, kind=int):
    raw = os.environ.get(name, "")
    if raw == "":
        v = default
    else:
        try:
            v = kind(raw)
        except ValueError:
            die(f"{name} must be {'a number' if kind in (int, float) else kind.__name__}, not {raw!r}", 2)
        if kind in (int, float) and v < 0:
            die(f"{name} must not be negative", 2)
    KNOBS[name] = v
    return v


PROCMON = knob("PROCMON", "build/procmon", str)
ROUNDS = knob("ROUNDS", 7)
BUILD_ROUNDS = knob("BUILD_ROUNDS", 5)
N = knob("N", 3000)
GETPPID_N = knob("GETPPID_N", 4_000_000)
OPENMAP_N = knob("OPENMAP_N", 15000)
OPENMAP_PATH = knob("OPENMAP_PATH", "/etc/hostname", str)
OPENMAP_LIB = knob("OPENMAP_LIB", "libz.so.1", str)
BUILD_JOBS = knob("BUILD_JOBS", 2)
WORKLOADS = knob("WORKLOADS", "exec,exec2,getppid,openmap,build", str)
MONITORS = knob("MONITORS", "procmon,auditd,execsnoop", str)
READY_RUNS = knob("READY_RUNS", 3)
IDLE_PROCS = knob("IDLE_PROCS", 2000)
MEM_LIFETIMES = knob("MEM_LIFETIMES", 100_000)
MEM_STEP = knob("MEM_STEP", 10_000)
MEM_PAR = knob("MEM_PAR", 2)
SOAK_S = knob("SOAK_S", 30)
LAT_N = knob("LAT_N", 3000)
SETTLE = knob("SETTLE", 1.2, float)
KEEP = knob("KEEP", 0)
FLEET = knob("FLEET", 1)
FLEET_ROUNDS = knob("FLEET_ROUNDS", 5)
FLEET_DRAIN_ROUNDS = knob("FLEET_DRAIN_ROUNDS", 3)
FLEET_SPOOL_MB = knob("FLEET_SPOOL_MB", 100)
FLEET_PUB_N = knob("FLEET_PUB_N", 200_000)
FLEET_RESTART_N = knob("FLEET_RESTART_N", 6000)

PROCMON_ABS = os.path.abspath(os.path.join(ROOT, PROCMON))
WL_NAMES = [w for w in WORKLOADS.split(",") if w and w != "none"]
MON_NAMES = [m for m in MONITORS.split(",") if m and m != "none"]
for w in WL_NAMES:
    if w not in TARGET_RATIO:
        die(f"WORKLOADS: unknown workload {w!r} (exec, exec2, getppid, openmap, build)", 2)
for m in MON_NAMES:
    if m not in ("procmon", "auditd", "execsnoop"):
        die(f"MONITORS: unknown monitor {m!r} (procmon, auditd, execsnoop)", 2)
if N < 1 or MEM_STEP < 1 or MEM_PAR < 1:
    die("N, MEM_STEP and MEM_PAR must be at least 1", 2)
if FLEET and (FLEET_SPOOL_MB < 1 or FLEET_PUB_N < 1 or FLEET_RESTART_N < 1):
    die("FLEET_SPOOL_MB, FLEET_PUB_N and FLEET_RESTART_N must be at least 1", 2)
MODES = ["off"] + MON_NAMES

PROBLEMS = []  # what could not be measured; any entry makes the exit status 1
LIVE = set()  # processes we started and have not reaped
AUDIT_TOUCHED = False
CLEANUPS = []  # extra callables for cleanup()


class BenchError(Exception):
    pass


def problem(msg):
    PROBLEMS.append(msg)
    print(f"  !! {msg}", file=sys.stderr, flush=True)


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------- processes

def spawn(argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, **kw)
    LIVE.add(p)
    return p


def reap(p, timeout=None):
    rc = p.wait(timeout)
    LIVE.discard(p)
    return rc


def run(argv, check=True, **kw):
    """A short command outside any timed window; its output as text."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {r.returncode}: {r.stdout.strip()}")
    return r


def sched_ns(pid):
    """On-CPU ns of all threads of pid (schedstat field 1), None if gone."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # thread exited meanwhile
    return total


def proc_mem(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out.get("VmHWM"), out.get("VmRSS")


def find_comm(name):
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            if s[s.index("(") + 1:s.rindex(")")] == name:
                return int(d)
    return None


def foreign_monitors():
    """Monitors running that this script did not start: they skew every mode."""
    ours = {p.pid for p in LIVE} | {os.getpid()}
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in ours:
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        names = {comm} | {os.path.basename(a) for a in argv}
        if names & {"procmon", "procmon-snapshot", "auditd", "execsnoop"}:
            found.append(f"{d} {' '.join(argv)[:80]}")
    return found


def possible_cpus():
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            n = 0
            for part in f.read().strip().split(","):
                a, _, b = part.partition("-")
                n += int(b or a) - int(a) + 1
            return n
    except OSError:
        return os.cpu_count()


# ---------------------------------------------------------------- monitors

class Monitor:
    name = "?"
    err = None  # its stderr file
    out = None  # its output file: removed after the run unless KEEP

    def __init__(self):
        self.proc = None
        self.notes = []

    def cpu_pids(self):
        return [self.proc.pid]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            rc = self.proc.returncode if self.proc else None
            raise BenchError(f"{self.name} exited early (status {rc}){self.err_tail()}")

    def err_tail(self):
        """The last lines of the monitor's stderr file, for error messages."""
        if not self.err:
            return ""
        try:
            with open(self.err, errors="replace") as f:
                return ": " + " | ".join(f.read().strip().splitlines()[-3:])
        except OSError:
            return ""

    def cpu_ns(self):
        total = 0
        for p in self.cpu_pids():
            v = sched_ns(p)
            if v is None:
                raise BenchError(f"{self.name}: process {p} is gone")
            total += v
        return total

    def mem(self):
        return proc_mem(self.proc.pid)

    def wait_idle(self, min_s=0.0, windows=1, max_s=20.0):
        """Wait until the monitor used < IDLE_NS of CPU in `windows` windows
        in a row and min_s have passed. Returns the seconds until its last
        busy window ended (how long it took to drain). After max_s it gives
        up with a note (other activity on the host keeps a monitor busy):
        what follows is measured all the same."""
        t0 = time.monotonic()
        prev = self.cpu_ns()
        still = 0
        last_busy = 0.0
        while True:
            time.sleep(WINDOW)
            self.check_alive()
            cur = self.cpu_ns()
            el = time.monotonic() - t0
            if cur - prev < IDLE_NS:
                still += 1
            else:
                still, last_busy = 0, el
            prev = cur
            if still >= windows and el >= min_s:
                return last_busy
            if el > max_s:
                note = f"{self.name} still busy after {max_s:.0f} s, going on"
                self.notes.append(note)
                log(f"  note: {note}")
                return last_busy

    def drain(self):
        return self.wait_idle(min_s=SETTLE, windows=2, max_s=60)

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            reap(self.proc)

    def delivered(self, pids):
        return None

    def cleanup_files(self):
        if not KEEP and self.out and os.path.isfile(self.out):
            os.remove(self.out)


class StderrTee(threading.Thread):
    """Copies a child's stderr pipe to a file; notes when the ready line came."""

    READY = re.compile(rb"^procmon: ready([^\w]|$)")

    def __init__(self, pipe, path):
        super().__init__(daemon=True)
        self.pipe, self.path = pipe, path
        self.ready_t = None
        self.ready_line = None
        self.ready = threading.Event()

    def run(self):
        with open(self.path, "ab", buffering=0) as out:
            for line in iter(self.pipe.readline, b""):
                t = time.monotonic()
                out.write(line)
                if self.ready_t is None and self.READY.match(line):
                    self.ready_t, self.ready_line = t, line.decode(errors="replace").strip()
                    self.ready.set()
        self.pipe.close()


class Procmon(Monitor):
    name = "procmon"

    def __init__(self, output=None, fifo=None, config=None):
        """config: a configuration file (its own output), instead of --output."""
        super().__init__()
        self.config = config
        self.out = None if config else (output or os.path.join(DIR, "procmon.jsonl"))
        self.fifo = fifo  # events to this FIFO as procmon's stdout (--output takes files only)
        self.err = os.path.join(DIR, "procmon.err")

    def start(self, idle=True):
        if self.out and os.path.isfile(self.out):
            os.remove(self.out)
        open(self.err, "w").close()  # truncated before it starts: no stale ready line
        t0 = self.t_spawn = time.monotonic()
        if self.fifo:
            stdout = os.open(self.fifo, os.O_WRONLY)  # its reader is already there
            self.proc = spawn([PROCMON_ABS], stdout=stdout, stderr=subprocess.PIPE)
            os.close(stdout)
        else:
            argv = ["--config", self.config] if self.config else ["--output", self.out]
            self.proc = spawn([PROCMON_ABS, *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.tee = StderrTee(self.proc.stderr, self.err)
        self.tee.start()
        while not self.tee.ready.wait(0.05):
            self.check_alive()
            if time.monotonic() - t0 > 30:
                raise BenchError(f"procmon not ready after 30 s{self.err_tail()}")
        self.ready_s = self.tee.ready_t - t0
        if idle:
            self.wait_idle()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = reap(self.proc, 60)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError("procmon did not exit within 60 s of SIGTERM")
        self.tee.join(5)
        with open(self.err, errors="replace") as f:
            text = f.read()
        res = {"status": rc, "lost": None,
               "ongoing_loss_lines": text.count("ongoing: events lost")}
        m = re.search(r"at exit: events lost:([^;\n]*)", text)
        if m:
            res["lost"] = sum(int(x) for x in re.findall(r"\d+", m.group(1)))
            res["at_exit"] = m.group(0)
        m = re.search(r"at exit: nats: (.*)", text)
        if m:  # published=N acknowledged=N ... (the fleet output's counters)
            res["nats"] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
            res["nats_at_exit"] = m.group(0)
        if rc != 0:
            raise BenchError(f"procmon exited with status {rc}{self.err_tail()}")
        if res["lost"] is None:
            raise BenchError("procmon printed no 'at exit: events lost:' line")
        return res

    def delivered(self, pids):
        return count_procmon_execs(self.out, pids)



def count_procmon_execs(path, pids):
    """ProcessExec of "true" with args "bench exec-storm" per parent pid."""
    want = {p: 0 for p in pids}
    bad = 0
    try:
        f = open(path, "rb")
    except OSError:
        return want, 0
    with f:
        for raw in f:
            if b'"ProcessExec"' not in raw:
                continue
            try:
                e = json.loads(raw)
            except ValueError:
                bad += 1
                continue
            if e.get("type") != "ProcessExec":
                continue
            p, par = e.get("process") or {}, e.get("parent") or {}
            pp = par.get("pid")
            if (pp in want and p.get("filename") == "true"
                    and p.get("args") == "bench exec-storm"):
                want[pp] += 1
    return want, bad


def auditctl(*args, check=True):
    global AUDIT_TOUCHED
    AUDIT_TOUCHED = True
    return run(["auditctl", *args], check=check).stdout


def audit_status():
    out = {}
    for line in auditctl("-s").splitlines():
        k, _, v = line.partition(" ")
        out[k] = v.strip()
    return out


PRIV_SYSCALLS = ["setuid", "setreuid", "setresuid", "setfsuid", "setgid", "setregid",
                 "setresgid", "setfsgid", "capset", "prctl", "unshare", "ptrace",
                 "process_vm_readv", "process_vm_writev", "pidfd_getfd"]


class Auditd(Monitor):
    name = "auditd"
    accepted = None  # privilege syscalls auditctl accepts, probed once
    rejected = []
    kauditd = None

    def __init__(self):
        super().__init__()
        self.log = self.out = os.path.join(AUDIT_DIR, "audit.log")
        self.err = os.path.join(AUDIT_DIR, "auditd.err")

    @classmethod
    def setup(cls):
        os.makedirs(os.path.join(AUDIT_DIR, "plugins.d"), exist_ok=True)
        os.chmod(AUDIT_DIR, 0o750)
        conf = os.path.join(AUDIT_DIR, "auditd.conf")
        with open(conf, "w") as f:
            f.write(f"""# written by bench/suite.py: a private auditd for the benchmark
local_events = yes
write_logs = yes
log_file = {os.path.join(AUDIT_DIR, "audit.log")}
log_group = root
log_format = RAW
flush = INCREMENTAL_ASYNC
freq = 50
num_logs = 2
max_log_file = 100000
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
use_libwrap = no
priority_boost = 4
name_format = NONE
plugin_dir = {os.path.join(AUDIT_DIR, "plugins.d")}
""")
        os.chown(conf, 0, 0)
        os.chmod(conf, 0o640)
        for f in os.listdir(os.path.join(AUDIT_DIR, "plugins.d")):
            os.remove(os.path.join(AUDIT_DIR, "plugins.d", f))
        cls.kauditd = find_comm("kauditd")

    def cpu_pids(self):
        return [self.proc.pid] + ([self.kauditd] if self.kauditd else [])

    def start(self):
        st = audit_status()
        if st.get("pid", "0") != "0":
            raise BenchError(f"another audit daemon (pid {st['pid']}) is registered")
        for f in (self.log, self.err):
            if os.path.exists(f):
                os.remove(f)
        errf = open(self.err, "w")
        self.proc = spawn(["auditd", "-n", "-c", AUDIT_DIR], stdout=errf, stderr=errf)
        errf.close()
        t0 = time.monotonic()
        while audit_status().get("pid") != str(self.proc.pid):
            self.check_alive()
            if time.monotonic() - t0 > 10:
                raise BenchError("auditd did not register within 10 s")
            time.sleep(0.05)
        auditctl("-D")
        auditctl("-b", "8192")
        auditctl("-e", "1")
        if Auditd.accepted is None:
            Auditd.accepted, Auditd.rejected = [], []
            for s in PRIV_SYSCALLS:
                r = run(["auditctl", "-a", "always,exit", "-F", "arch=b64", "-S", s, "-k", "probe"],
                        check=False)
                (Auditd.accepted if r.returncode == 0 else Auditd.rejected).append(s)
            auditctl("-D")
            if Auditd.rejected:
                log(f"  note: auditctl rejects {', '.join(Auditd.rejected)}: left out of the rules")
        auditctl("-a", "always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-k", "exec")
        if Auditd.accepted:
            auditctl("-a", "always,exit", "-F", "arch=b64", "-S", ",".join(Auditd.accepted),
                     "-k", "priv")
        self.lost0 = int(audit_status().get("lost", 0))
        self.wait_idle()

    def stop(self):
        lost1 = int(audit_status().get("lost", 0))
        auditctl("-D")
        auditctl("-e", "0")
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = reap(self.proc, 60)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError("auditd did not exit within 60 s of SIGTERM")
        if rc != 0:
            raise BenchError(f"auditd exited with status {rc}{self.err_tail()}")
        return {"status": rc, "lost": lost1 - self.lost0}

    def delivered(self, pids):
        want = {p: 0 for p in pids}
        rx = re.compile(r"^type=SYSCALL .* syscall=59 success=yes .* ppid=(\d+) pid=\d+ .*"
                        r' exe="(/usr)?/bin/true"')
        with open(self.log, errors="replace") as f:
            for line in f:
                if line.startswith("type=SYSCALL"):
                    m = rx.match(line)
                    if m and int(m.group(1)) in want:
                        want[int(m.group(1))] += 1
        return want, 0



class Execsnoop(Monitor):
    name = "execsnoop"

    def __init__(self):
        super().__init__()
        self.out = os.path.join(DIR, "execsnoop.txt")
        self.err = os.path.join(DIR, "execsnoop.err")

    def fd_kinds(self):
        kinds = {}
        d = f"/proc/{self.proc.pid}/fd"
        try:
            for fd in os.listdir(d):
                try:
                    k = os.readlink(f"{d}/{fd}")
                except OSError:
                    continue
                kinds[k] = kinds.get(k, 0) + 1
        except OSError:
            pass
        return kinds

    def start(self):
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = spawn([EXECSNOOP], stdout=out, stderr=err)
        # Attached once it holds BPF links; its per-CPU perf buffers
        # ([perf_event] fds beyond one per link) are set up just after.
        t0 = time.monotonic()
        ncpu = possible_cpus()
        while True:
            self.check_alive()
            k = self.fd_kinds()
            links = k.get("anon_inode:bpf_link", 0) + k.get("anon_inode:bpf-link", 0)
            if links and k.get("anon_inode:[perf_event]", 0) >= links + ncpu:
                break
            if time.monotonic() - t0 > 30:
                raise BenchError(f"execsnoop not attached after 30 s (fds: {k}){self.err_tail()}")
            time.sleep(0.02)
        self.wait_idle()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # SIGINT: a clean exit flushes stdout
        try:
            rc = reap(self.proc, 60)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError("execsnoop did not exit within 60 s of SIGINT")
        with open(self.err, errors="replace") as f:
            lost = sum(int(n) for n in re.findall(r"Lost (\d+) events on CPU", f.read()))
        if rc != 0:
            raise BenchError(f"execsnoop exited with status {rc}{self.err_tail()}")
        return {"status": rc, "lost": lost}

    def delivered(self, pids):
        want = {str(p): 0 for p in pids}
        with open(self.out, errors="replace") as f:
            for line in f:
                parts = line.split(None, 4)
                if len(parts) >= 3 and parts[0] == "true" and parts[2] in want:
                    want[parts[2]] += 1
        return {int(k): v for k, v in want.items()}, 0



MONITOR_CLASSES = {"procmon": Procmon, "auditd": Auditd, "execsnoop": Execsnoop}


# ---------------------------------------------------------------- workloads

def storms(k, n, argv_extra=None):
    """k exec storms in parallel; their pids, counts and the slower time."""
    argv = [STORM] + (argv_extra or [str(n)])
    procs = [spawn(argv, stdout=subprocess.PIPE, text=True) for _ in range(k)]
    res = {"pids": [], "happened": {}, "times": []}
    failed = []
    for p in procs:
        out = p.communicate()[0]
        rc = reap(p)
        fields = out.split()
        if rc != 0 or not fields:
            failed.append(f"exec_storm {p.pid} exit {rc}")
            continue
        if argv_extra and argv_extra[0] == "-t":
            count, secs = int(fields[0]), float(fields[1])
        else:
            count, secs = n, float(fields[0])
        res["pids"].append(p.pid)
        res["happened"][p.pid] = count
        res["times"].append(secs)
    if failed:
        raise BenchError("; ".join(failed))
    res["seconds"] = max(res["times"])
    return res


def loop(*args):
    p = spawn([LOOP, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    rc = reap(p)
    if rc != 0:
        raise BenchError(f"loop {args[0]}: exit {rc}: {err.strip()}")
    return {"seconds": float(out.split()[0])}


class Build:
    """make -j of procmon's sources, each run into a fresh build directory."""

    def __init__(self):
        self.k = 0
        self.job = None

    def setup(self):
        shutil.rmtree(SRC_DIR, ignore_errors=True)
        os.makedirs(SRC_DIR)
        paths = ["src", "include", "config", "scripts", "tools", "Makefile", "VERSION"]
        git = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", "HEAD", *paths],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if git.returncode == 0:
            subprocess.run(["tar", "-x", "-C", SRC_DIR], input=git.stdout, check=True)
            self.source = "git HEAD " + run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
        else:
            for p in paths:
                s = os.path.join(ROOT, p)
                (shutil.copytree if os.path.isdir(s) else shutil.copy2)(s, os.path.join(SRC_DIR, p))
            self.source = "working tree copy"
        self.vmlinux = os.path.join(ROOT, "build", "vmlinux.h")
        if not os.path.isfile(self.vmlinux):
            self.vmlinux = os.path.join(DIR, "vmlinux.h")
            with open(self.vmlinux, "w") as f:
                subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                                "format", "c"], stdout=f, check=True)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}

    def prepare(self):
        self.k += 1
        self.job = os.path.join(DIR, f"job-{self.k}")
        shutil.rmtree(self.job, ignore_errors=True)
        os.makedirs(self.job)
        shutil.copy(self.vmlinux, os.path.join(self.job, "vmlinux.h"))  # not timed: no bpftool

    def run(self):
        errp = os.path.join(DIR, "build.err")
        with open(errp, "w") as err:
            t0 = time.monotonic()
            p = spawn(["make", "-s", f"-j{BUILD_JOBS}", f"BUILD={self.job}", "all"], cwd=SRC_DIR,
                      stdout=subprocess.DEVNULL, stderr=err, env=self.env)
            rc = reap(p)
            secs = time.monotonic() - t0
        if rc != 0 or not os.path.isfile(os.path.join(self.job, "procmon")):
            with open(errp, errors="replace") as f:
                tail = " | ".join(f.read().strip().splitlines()[-3:])
            raise BenchError(f"build failed (exit {rc}): {tail}")
        return {"seconds": secs}

    def finish(self):
        if self.job:
            shutil.rmtree(self.job, ignore_errors=True)


BUILD = Build()
WORKLOAD_DEFS = {
    "exec": dict(title=lambda: f"exec storm: 1 loop x {N} (fork + execve /bin/true bench exec-storm + wait)",
                 rounds=lambda: ROUNDS, run=lambda: storms(1, N), storm=True,
                 warm=lambda: storms(1, max(N // 10, 1))),
    "exec2": dict(title=lambda: f"exec storm: 2 loops in parallel x {N} each (time of the slower)",
                  rounds=lambda: ROUNDS, run=lambda: storms(2, N), storm=True,
                  warm=lambda: storms(2, max(N // 10, 1))),
    "getppid": dict(title=lambda: f"getppid: {GETPPID_N} raw getppid() (watched by no monitor)",
                    rounds=lambda: ROUNDS, run=lambda: loop("getppid", GETPPID_N),
                    warm=lambda: loop("getppid", max(GETPPID_N // 10, 1))),
    "openmap": dict(title=lambda: f"open/mmap: {OPENMAP_N} x (open+mmap+munmap+close {OPENMAP_PATH}, "
                                  f"dlopen+dlclose {OPENMAP_LIB})",
                    rounds=lambda: ROUNDS,
                    run=lambda: loop("openmap", OPENMAP_N, OPENMAP_PATH, OPENMAP_LIB),
                    warm=lambda: loop("openmap", max(OPENMAP_N // 10, 1), OPENMAP_PATH, OPENMAP_LIB)),
    "build": dict(title=lambda: f"build: make -j{BUILD_JOBS} of procmon ({BUILD.source}) into a fresh directory",
                  rounds=lambda: BUILD_ROUNDS, run=lambda: BUILD.run(), prepare=lambda: BUILD.prepare(),
                  finish=lambda: BUILD.finish(), warm=lambda: (BUILD.prepare(), BUILD.run(), BUILD.finish())),
}


def timed_run(wl, mode):
    """One run of workload wl with monitor mode; a dict of what was measured."""
    d = WORKLOAD_DEFS[wl]
    rec = {"mode": mode}
    fm = foreign_monitors()
    if fm:
        rec["foreign_monitors"] = fm
        log(f"  note: monitor(s) not started by this script running: {'; '.join(fm)}")
    mon = None
    try:
        if mode != "off":
            mon = MONITOR_CLASSES[mode]()
            mon.start()
            if isinstance(mon, Procmon):
                rec["ready_s"] = round(mon.ready_s, 4)
        # A monitor runs for days: by the time a job runs, it has seen its
        # programs before (procmon has hashed cc1, libLLVM ...). So every
        # mode, off included, first sees one untimed pass of the workload;
        # that pass's time is kept as the "first pass after start" figure.
        t0 = time.monotonic()
        d["warm"]()
        rec["first_pass_s"] = round(time.monotonic() - t0, 4)
        if mon:
            mon.wait_idle()
            cpu0 = mon.cpu_ns()
        if "prepare" in d:
            d["prepare"]()
        w = d["run"]()
        rec["seconds"] = w["seconds"]
        if "times" in w:
            rec["storm_times"] = w["times"]
            rec["happened"] = sum(w["happened"].values())
        if mon:
            rec["drain_s"] = round(mon.drain(), 3)
            rec["cpu_ns"] = mon.cpu_ns() - cpu0
            rec["vm_hwm_kb"], rec["vm_rss_kb"] = mon.mem()
            rec.update(mon.stop())
            if d.get("storm"):
                got, bad = mon.delivered(w["pids"])
                rec["delivered"] = sum(got.values())
                rec["delivered_per_storm"] = [[p, got[p], w["happened"][p]] for p in w["pids"]]
                if bad:
                    rec["bad_lines"] = bad
            mon.cleanup_files()
    except BenchError as e:
        problem(f"{wl}/{mode}: {e}")
        rec["error"] = str(e)
        if mon:
            mon.kill()
    finally:
        if mon and mon.notes:
            rec["notes"] = mon.notes
        if "finish" in d:
            d["finish"]()
    return rec


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(wl, rounds):
    d = WORKLOAD_DEFS[wl]
    summ = {}
    for mode in MODES:
        runs = [r["runs"].get(mode, {}) for r in rounds]
        ratios = [r["ratios"].get(mode) for r in rounds]
        ratios = [x for x in ratios if x is not None]
        s = {"median_s": med(r.get("seconds") for r in runs),
             "ratio_median": med(ratios), "ratio_min": min(ratios) if ratios else None,
             "ratio_max": max(ratios) if ratios else None, "ratios": ratios,
             "failed_runs": sum(1 for r in runs if "error" in r or "seconds" not in r),
             "first_pass_ratio_median": med(r["first_pass_ratios"].get(mode) for r in rounds)}
        if mode != "off":
            s["cpu_ms_median"] = med(r.get("cpu_ns", None) and r["cpu_ns"] / 1e6 for r in runs)
            s["lost_total"] = sum(r.get("lost") or 0 for r in runs)
            s["vm_hwm_kb_max"] = max((r.get("vm_hwm_kb") or 0 for r in runs), default=None)
            s["drain_s_median"] = med(r.get("drain_s") for r in runs)
            if d.get("storm"):
                per = [r["cpu_ns"] / 1e3 / r["happened"] for r in runs
                       if r.get("cpu_ns") is not None and r.get("happened")]
                s["cpu_us_per_exec"] = per
                s["cpu_us_per_exec_median"] = med(per)
                s["delivered_total"] = sum(r.get("delivered") or 0 for r in runs)
                s["happened_total"] = sum(r.get("happened") or 0 for r in runs)
        summ[mode] = s
    return summ


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def print_workload(wl, res):
    d = WORKLOAD_DEFS[wl]
    storm = d.get("storm")
    mons = MODES[1:]
    hdr = f"{'round':<6}{'off_s':>9}"
    for m in mons:
        hdr += f"  {m + '_s':>12}{'ratio':>7}" + (f"{'events':>7}" if storm else "")
    log(hdr)
    for r in res["rounds"]:
        line = f"{r['round']:<6}{fmt(r['runs']['off'].get('seconds'), '9.3f'):>9}"
        for m in mons:
            x = r["runs"].get(m, {})
            line += f"  {fmt(x.get('seconds'), '12.3f'):>12}{fmt(r['ratios'].get(m), '7.3f'):>7}"
            if storm:
                line += f"{fmt(x.get('delivered'), '7d'):>7}"
        log(line)
    log()
    h = f"{'monitor':<10}{'median_s':>9}{'ratio':>7}  {'[min-max]':<13}{'cpu_ms':>8}"
    if storm:
        h += f"{'us/exec':>8}  {'delivered/happened':<19}"
    h += f"{'lost':>6}{'VmHWM_MiB':>10}{'1st-pass':>9}"
    log(h)
    for m in MODES:
        s = res["summary"][m]
        rng = (f"[{s['ratio_min']:.3f}-{s['ratio_max']:.3f}]" if s["ratio_min"] is not None
               and m != "off" else "")
        line = (f"{m:<10}{fmt(s['median_s'], '9.3f'):>9}{fmt(s['ratio_median'], '7.3f'):>7}  "
                f"{rng:<13}{fmt(s.get('cpu_ms_median'), '8.1f', '' if m == 'off' else '-'):>8}")
        if storm:
            dh = (f"{s['delivered_total']}/{s['happened_total']}" if m != "off" else "")
            line += f"{fmt(s.get('cpu_us_per_exec_median'), '8.1f', ''):>8}  {dh:<19}"
        if m != "off":
            line += (f"{s['lost_total']:>6}{fmt(s['vm_hwm_kb_max'] and s['vm_hwm_kb_max'] / 1024, '10.1f'):>10}"
                     f"{fmt(s['first_pass_ratio_median'], '9.3f'):>9}")
        log(line)
    log()


def run_workload(wl):
    d = WORKLOAD_DEFS[wl]
    nrounds = d["rounds"]()
    if nrounds < 1:
        return None
    log(f"== {d['title']()}, {nrounds} rounds")
    try:
        d["warm"]()  # page cache, dentries: the first timed run is not the cold one
    except BenchError as e:
        problem(f"{wl}: warm-up: {e}")
        return None
    rounds = []
    for r in range(nrounds):
        k = r % len(MODES)
        order = MODES[k:] + MODES[:k]
        runs = {m: timed_run(wl, m) for m in order}
        off = runs["off"].get("seconds")
        ratios = {m: (runs[m]["seconds"] / off if off and runs[m].get("seconds") else None)
                  for m in MODES}
        off1 = runs["off"].get("first_pass_s")
        first = {m: (runs[m]["first_pass_s"] / off1 if off1 and runs[m].get("first_pass_s") else None)
                 for m in MODES}
        rounds.append({"round": r + 1, "order": order, "runs": runs, "ratios": ratios,
                       "first_pass_ratios": first})
    res = {"title": d["title"](), "rounds": rounds}
    res["summary"] = summarize(wl, rounds)
    print_workload(wl, res)
    return res


# ---------------------------------------------------------------- procmon-only phases

def phase_ready():
    """Start-up time (exec of procmon to its ready line), plain and with
    IDLE_PROCS more processes in the process table."""
    log(f"== ready time: procmon start to 'procmon: ready', {READY_RUNS} runs each")
    res = {}

    def runs(label):
        times = []
        for _ in range(READY_RUNS):
            pm = Procmon()
            try:
                pm.start(idle=False)
                times.append(pm.ready_s)
                pm.wait_idle()
                pm.stop()
            except BenchError as e:
                problem(f"ready ({label}): {e}")
                pm.kill()
            pm.cleanup_files()
        return times

    nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
    res["plain"] = {"processes": nproc, "ready_s": runs("plain")}
    helper = None
    if IDLE_PROCS:
        helper = spawn([IDLE, str(IDLE_PROCS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def stop_helper():
            if helper.poll() is None:
                helper.stdin.close()
                try:
                    reap(helper, 60)
                except subprocess.TimeoutExpired:
                    helper.kill()
                    reap(helper)
        CLEANUPS.append(stop_helper)
        line = helper.stdout.readline().strip()
        if line != f"ready {IDLE_PROCS}":
            problem(f"ready: idle_procs said {line!r}")
        else:
            nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
            res["extra"] = {"idle_procs": IDLE_PROCS, "processes": nproc, "ready_s": runs("extra")}
        stop_helper()
        CLEANUPS.remove(stop_helper)
    for k in ("plain", "extra"):
        if k in res and res[k]["ready_s"]:
            res[k]["median_s"] = med(res[k]["ready_s"])
            log(f"  {res[k]['processes']:>5} processes: median {res[k]['median_s']:.3f} s  "
                f"(runs: {', '.join(f'{t:.3f}' for t in res[k]['ready_s'])})")
    log()
    return res


def procmon_phase(name, pm, res, body):
    """Run body() with procmon `pm`: False, the failure noted as a problem of
    the phase, when it raised BenchError. Either way pm's files are removed
    and its notes kept in res."""
    try:
        body()
        return True
    except BenchError as e:
        problem(f"{name}: {e}")
        pm.kill()
        return False
    finally:
        pm.cleanup_files()
        if pm.notes:
            res["notes"] = pm.notes


def phase_memory():
    log(f"== memory: procmon VmRSS over {MEM_LIFETIMES} process lifetimes "
        f"(fork + _exit + wait, {MEM_PAR} loops in parallel), a sample every {MEM_STEP}")
    pm = Procmon()
    res = {"samples": []}

    def soak():
        pm.start()
        hwm, rss = pm.mem()
        res["samples"].append({"lifetimes": 0, "rss_kb": rss, "hwm_kb": hwm})
        done = 0
        t0 = time.monotonic()
        while done < MEM_LIFETIMES:
            step = min(MEM_STEP, MEM_LIFETIMES - done)
            parts = [step // MEM_PAR + (1 if i < step % MEM_PAR else 0) for i in range(MEM_PAR)]
            procs = [spawn([STORM, "-f", str(n)], stdout=subprocess.DEVNULL) for n in parts if n]
            for p in procs:
                if reap(p) != 0:
                    raise BenchError("exec_storm -f failed")
            done += step
            pm.wait_idle(max_s=60)  # what the step made is processed
            hwm, rss = pm.mem()
            res["samples"].append({"lifetimes": done, "rss_kb": rss, "hwm_kb": hwm,
                                   "t_s": round(time.monotonic() - t0, 1)})
        time.sleep(6)  # exited processes linger 5 s in procmon's cache
        hwm, rss = pm.mem()
        res["after_6s"] = {"rss_kb": rss, "hwm_kb": hwm}
        res.update(pm.stop())

    if not procmon_phase("memory", pm, res, soak):
        return res
    s = res["samples"]
    # "Flat": a bounded cache fills up to its bound (PM_CACHE_EXITED_MAX
    # exited processes lingering), then stays. Growth is taken over the
    # second half of the soak, from the first sample at or past half-way.
    first = next((x for x in s if x["lifetimes"] >= MEM_LIFETIMES / 2), None)
    if first and first is not s[-1]:
        res["growth_kb"] = s[-1]["rss_kb"] - first["rss_kb"]
        res["growth_from"] = first["lifetimes"]
    res["max_rss_kb"] = max([x["rss_kb"] for x in s] + [res["after_6s"]["rss_kb"]])
    log("  " + "  ".join(f"{x['lifetimes'] // 1000}k:{x['rss_kb'] / 1024:.1f}" for x in s)
        + f"  +6s:{res['after_6s']['rss_kb'] / 1024:.1f}  (MiB)")
    log(f"  max {res['max_rss_kb'] / 1024:.1f} MiB, growth {res.get('growth_from')}"
        f" -> {s[-1]['lifetimes']}: {res.get('growth_kb', 0) / 1024:+.2f} MiB, "
        f"VmHWM {s[-1]['hwm_kb'] / 1024:.1f} MiB, lost {res['lost']}")
    log()
    return res


def phase_soak():
    log(f"== no-loss soak: 2 exec storms in parallel for {SOAK_S} s, procmon on")
    pm = Procmon()
    res = {}

    def soak():
        pm.start()
        w = storms(2, 0, ["-t", str(SOAK_S)])
        res["drain_s"] = pm.drain()
        res.update(pm.stop())
        got, bad = pm.delivered(w["pids"])
        res["storms"] = [[p, w["happened"][p], got[p]] for p in w["pids"]]
        res["happened"] = sum(w["happened"].values())
        res["delivered"] = sum(got.values())
        res["bad_lines"] = bad
        res["seconds"] = w["seconds"]

    if not procmon_phase("soak", pm, res, soak):
        return res
    log(f"  execs {res['happened']} ({', '.join(str(s[1]) for s in res['storms'])}), "
        f"in the output {res['delivered']}, lost counters {res['lost']}, "
        f"ongoing-loss lines {res['ongoing_loss_lines']}")
    log()
    return res


class FifoReader(threading.Thread):
    """Reads the FIFO continuously; (arrival ns, chunk) pairs, parsed later."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.chunks = []
        self.opened = threading.Event()

    def run(self):
        fd = os.open(self.path, os.O_RDONLY)
        self.opened.set()
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        while True:
            b = os.read(fd, 1 << 20)
            t = time.time_ns()
            if not b:
                break
            self.chunks.append((t, b))
        os.close(fd)

    def unblock(self):
        """If the writer never came, open for writing so open() returns."""
        if not self.opened.is_set():
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass


def iso_ms(ts, cache={}):
    """'2026-11-22T05:47:41.940Z' -> ms since the epoch."""
    k = ts[:19]
    s = cache.get(k)
    if s is None:
        s = cache[k] = calendar.timegm(time.strptime(k, "%Y-%m-%dT%H:%M:%S")) * 1000
    frac = ts[20:-1] if len(ts) > 20 else "0"
    return s + int((frac + "000")[:3])


def pct(xs, p):
    """Nearest-rank percentile of a sorted list."""
    if not xs:
        return None
    return xs[max(0, min(len(xs) - 1, -(-len(xs) * p // 100) - 1))]


def phase_latency():
    log(f"== latency: procmon > FIFO, one storm of {LAT_N} execs")
    fifo = os.path.join(DIR, "lat.fifo")
    if os.path.exists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo, 0o600)
    reader = FifoReader(fifo)
    reader.start()  # before procmon: the open for writing waits for a reader
    pm = Procmon(fifo=fifo)
    res = {}
    try:
        pm.start()
        t_storm = time.time_ns() // 1_000_000
        w = storms(1, LAT_N)
        pm.drain()
        res.update(pm.stop())
    except BenchError as e:
        problem(f"latency: {e}")
        pm.kill()
        reader.unblock()
        return res
    finally:
        if pm.notes:
            res["notes"] = pm.notes
        reader.unblock()
        reader.join(30)
        os.remove(fifo)
    spid = w["pids"][0]
    storm_lat, all_lat = [], []
    buf = b""
    bad = 0
    counts = {"ProcessExec": 0, "ProcessClone": 0, "ProcessExit": 0}
    for t, chunk in reader.chunks:
        lines = (buf + chunk).split(b"\n")
        buf = lines.pop()
        for raw in lines:
            try:
                e = json.loads(raw)
                ts = iso_ms(e["timestamp"])
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            if ts < t_storm:
                continue  # the start-up scan's events: not the storm's window
            lat = t / 1e6 - ts
            all_lat.append(lat)
            typ, p, par = e.get("type"), e.get("process") or {}, e.get("parent") or {}
            if ((typ == "ProcessExec" and par.get("pid") == spid and p.get("filename") == "true")
                    or (typ in ("ProcessClone", "ProcessExit") and p.get("ppid") == spid)):
                storm_lat.append(lat)
                counts[typ] += 1
    for name, xs in (("storm", storm_lat), ("all", all_lat)):
        xs.sort()
        res[name] = {"events": len(xs), "p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99),
                     "max_ms": xs[-1] if xs else None}
        log(f"  {name + ' events':<13} {len(xs):>7}: p50 {fmt(pct(xs, 50), '.1f')} ms, "
            f"p99 {fmt(pct(xs, 99), '.1f')} ms, max {fmt(xs[-1] if xs else None, '.1f')} ms")
    res["storm_counts"] = counts
    res["bad_lines"] = bad + (1 if buf.strip() else 0)
    log(f"  storm events found: exec {counts['ProcessExec']}, clone {counts['ProcessClone']}, "
        f"exit {counts['ProcessExit']} (of {LAT_N} each); lost counters {res['lost']}")
    log()
    return res


# ---------------------------------------------------------------- fleet output (NATS JetStream)

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
FLEET_TAG = "procmon-bench-fleet-"  # in every nats-server's argv (its store): ours
FLEET_STREAM = "PROCMON"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def natsproto():
    sys.path.insert(0, os.path.join(ROOT, "tests", "fleet"))
    import natsproto as m
    return m


class NatsServer:
    """nats-server -js on a free loopback port with its own store, stopped by
    cleanup() whatever happens."""

    def __init__(self, base, name):
        self.base, self.name = base, name
        self.port = free_port()
        self.store = os.path.join(base, f"store-{name}")
        self.log = os.path.join(base, f"{name}.log")
        self.proc = None
        CLEANUPS.append(self.stop)

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        import socket
        with open(self.log, "ab") as logf:
            self.proc = spawn([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                               "-sd", self.store, "-n", self.name], stdout=logf, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                with open(self.log, errors="replace") as f:
                    tail = " | ".join(f.read().strip().splitlines()[-3:])
                raise BenchError(f"nats-server {self.name} exited: {tail}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                pass
            if time.monotonic() - t0 > 15:
                raise BenchError(f"nats-server {self.name} not listening after 15 s")
            time.sleep(0.02)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            reap(self.proc, 10)

    def stop(self, remove_store=False):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                reap(self.proc, 10)
            except subprocess.TimeoutExpired:
                self.kill9()
        elif self.proc:
            LIVE.discard(self.proc)
        if remove_store:
            shutil.rmtree(self.store, ignore_errors=True)

    def count(self, client=None):
        """Messages in the stream, None when the server does not answer."""
        np = natsproto()
        try:
            if client:
                return client.stream_count(FLEET_STREAM)
            with np.Client(self.port, timeout=2) as c:
                return c.stream_count(FLEET_STREAM)
        except (OSError, np.NatsError):
            return None

    def cpu_ns(self):
        return sched_ns(self.proc.pid) if self.proc else None


def fleet_config(base, name, output, server=None, spool=None, spool_mb=64):
    """procmon's built-in configuration (config/procmon.yaml) with `output`
    and, when server is given, a nats block for it."""
    with open(os.path.join(ROOT, "config", "procmon.yaml")) as f:
        text = f.read()
    text, k = re.subn(r"(?m)^output:.*$", f"output: {json.dumps(output)}", text)
    if k != 1:
        raise BenchError("config/procmon.yaml: no single top-level 'output:' line")
    if server:
        text += ("\nnats:\n  enabled: true\n"
                 f"  servers: [{json.dumps(server.url)}]\n"
                 f"  stream: {FLEET_STREAM}\n  create_stream: true\n"
                 f"  spool_dir: {json.dumps(spool)}\n  spool_max_mb: {spool_mb}\n")
    path = os.path.join(base, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def stream_execs(server, pids, base):
    """The storm's ProcessExec events in the stream (procmon-tail --all
    --catch-up --type ProcessExec): unique per storm pid, and how many came
    more than once (same event_id)."""
    path = os.path.join(base, "tail.jsonl")
    with open(path, "wb") as out:
        p = spawn([os.path.join(ROOT, "build", "procmon-tail"), "--server", server.url,
                   "--stream", FLEET_STREAM, "--all", "--catch-up", "--type", "ProcessExec"],
                  stdout=out, stderr=subprocess.PIPE)
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            reap(p)
            raise BenchError("procmon-tail --catch-up did not finish within 120 s")
        rc = reap(p)
    if rc != 0:
        raise BenchError(f"procmon-tail exit {rc}: {err.decode(errors='replace').strip()[-300:]}")
    want = {q: set() for q in pids}
    dups, bad = 0, 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                e = json.loads(raw)
            except ValueError:
                bad += 1
                continue
            pr, par = e.get("process") or {}, e.get("parent") or {}
            pp = par.get("pid")
            if pp in want and pr.get("filename") == "true" and pr.get("args") == "bench exec-storm":
                if e.get("event_id") in want[pp]:
                    dups += 1
                want[pp].add(e.get("event_id"))
    if not KEEP:
        os.remove(path)
    return {q: len(v) for q, v in want.items()}, dups, bad


def spool_bytes(d):
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".seg"))
    except OSError:
        return 0


class Fleet:
    def __init__(self):
        import tempfile
        self.base = tempfile.mkdtemp(prefix=FLEET_TAG)
        os.chmod(self.base, 0o700)
        self.k = 0
        CLEANUPS.append(self.cleanup)

    def server(self, name=None):
        self.k += 1
        return NatsServer(self.base, name or f"s{self.k}")

    def cleanup(self):
        if not KEEP:
            shutil.rmtree(self.base, ignore_errors=True)


def fleet_storm_run(fl, mode):
    """One timed exec storm with procmon writing a file (mode 'file') or
    publishing to a fresh nats-server with no file (mode 'nats')."""
    rec = {"mode": mode}
    srv = None
    pm = None
    try:
        if mode == "nats":
            srv = fl.server().start()
            spool = os.path.join(fl.base, f"spool-{fl.k}")
            cfg = fleet_config(fl.base, "nats", "none", srv, spool)
        else:
            cfg = fleet_config(fl.base, "file", os.path.join(DIR, "procmon.jsonl"))
        pm = Procmon(config=cfg)
        if mode == "file":
            pm.out = os.path.join(DIR, "procmon.jsonl")
            if os.path.isfile(pm.out):
                os.remove(pm.out)
        pm.start()
        storms(1, max(N // 10, 1))  # the untimed first pass, as timed_run does
        pm.wait_idle()
        cpu0, scpu0 = pm.cpu_ns(), srv.cpu_ns() if srv else None
        ev0 = events_out(pm, srv)
        th0 = thread_cpu(pm.proc.pid)
        w = storms(1, N)
        rec["seconds"] = w["seconds"]
        rec["happened"] = N
        rec["drain_s"] = round(pm.drain(), 3)
        rec["cpu_ns"] = pm.cpu_ns() - cpu0
        th1 = thread_cpu(pm.proc.pid)
        rec["thread_cpu_us_per_exec"] = {k: round((v - th0.get(k, 0)) / 1e3 / N, 1) for k, v in th1.items()
                                         if v - th0.get(k, 0) > 0}
        if srv:
            rec["server_cpu_ns"] = srv.cpu_ns() - scpu0
        rec.update(pm.stop())
        ev1 = events_out(pm, srv)
        if ev0 is not None and ev1 is not None:
            rec["events"] = ev1 - ev0
        if srv:
            got, dups, bad = stream_execs(srv, w["pids"], fl.base)
            rec["duplicates"] = dups
        else:
            got, bad = pm.delivered(w["pids"])
        rec["delivered"] = sum(got.values())
        if bad:
            rec["bad_lines"] = bad
    except BenchError as e:
        problem(f"fleet exec/{mode}: {e}")
        rec["error"] = str(e)
        if pm:
            pm.kill()
    finally:
        if pm:
            pm.cleanup_files()
            if pm.notes:
                rec["notes"] = pm.notes
        if srv:
            srv.stop(remove_store=True)
    return rec


def thread_cpu(pid):
    """On-CPU ns of pid's main thread and of its other threads, by name."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                comm = f.read().strip()
            comm = "main" if t == str(pid) else f"{comm} (other threads)"
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                out[comm] = out.get(comm, 0) + int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def events_out(pm, srv):
    """Events procmon has put out so far: the stream's messages, or the
    output file's lines. On a shared host procmon also reports other
    people's processes: CPU per event is the figure their storms skew less."""
    if srv:
        return srv.count()
    try:
        with open(pm.out, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return 0


def fleet_exec(fl, res):
    log(f"-- exec storm, {N} execs: procmon --config (built-in + output: none + nats) "
        f"against procmon writing a file, {FLEET_ROUNDS} rounds, order alternating")
    rounds = []
    for r in range(FLEET_ROUNDS):
        order = ["file", "nats"] if r % 2 == 0 else ["nats", "file"]
        runs = {m: fleet_storm_run(fl, m) for m in order}
        f, n = runs["file"], runs["nats"]
        x = {"round": r + 1, "order": order, "runs": runs}
        if f.get("seconds") and n.get("seconds"):
            x["wall_ratio"] = n["seconds"] / f["seconds"]
        if f.get("cpu_ns") and n.get("cpu_ns"):
            x["cpu_ratio"] = n["cpu_ns"] / f["cpu_ns"]
        if f.get("cpu_ns") and n.get("cpu_ns") and f.get("events") and n.get("events"):
            x["cpu_per_event_ratio"] = (n["cpu_ns"] / n["events"]) / (f["cpu_ns"] / f["events"])
        rounds.append(x)
        log(f"  round {r + 1} ({order[0]} first): file {fmt(f.get('seconds'), '.3f')} s "
            f"{fmt(f.get('cpu_ns') and f['cpu_ns'] / 1e3 / N, '.1f')} us/exec "
            f"{f.get('delivered', '-')}/{N} | nats {fmt(n.get('seconds'), '.3f')} s "
            f"{fmt(n.get('cpu_ns') and n['cpu_ns'] / 1e3 / N, '.1f')} us/exec "
            f"(server {fmt(n.get('server_cpu_ns') and n['server_cpu_ns'] / 1e3 / N, '.1f')}) "
            f"{n.get('delivered', '-')}/{N} | wall {fmt(x.get('wall_ratio'), '.3f')} "
            f"cpu {fmt(x.get('cpu_ratio'), '.3f')} | events out: file {f.get('events', '-')}, "
            f"nats {n.get('events', '-')}, cpu/event {fmt(x.get('cpu_per_event_ratio'), '.3f')}")
    res["exec_rounds"] = rounds

    def mmm(xs):
        xs = [v for v in xs if v is not None]
        return {"median": med(xs), "min": min(xs) if xs else None, "max": max(xs) if xs else None}
    s = {}
    for m in ("file", "nats"):
        runs = [r["runs"][m] for r in rounds]
        s[m] = {"seconds": mmm(r.get("seconds") for r in runs),
                "cpu_us_per_exec": mmm(r.get("cpu_ns") and r["cpu_ns"] / 1e3 / N for r in runs),
                "delivered": sum(r.get("delivered") or 0 for r in runs),
                "happened": sum(r.get("happened") or 0 for r in runs),
                "lost": sum(r.get("lost") or 0 for r in runs)}
    s["nats"]["server_cpu_us_per_exec"] = mmm(r["runs"]["nats"].get("server_cpu_ns") and
                                              r["runs"]["nats"]["server_cpu_ns"] / 1e3 / N for r in rounds)
    s["wall_ratio"] = mmm(r.get("wall_ratio") for r in rounds)
    s["cpu_ratio"] = mmm(r.get("cpu_ratio") for r in rounds)
    s["cpu_per_event_ratio"] = mmm(r.get("cpu_per_event_ratio") for r in rounds)
    for m in ("file", "nats"):
        s[m]["cpu_us_per_event"] = mmm(r["runs"][m].get("cpu_ns") and r["runs"][m].get("events") and
                                       r["runs"][m]["cpu_ns"] / 1e3 / r["runs"][m]["events"] for r in rounds)
    res["exec"] = s

    def rng(d, spec):
        return f"{fmt(d['median'], spec)} [{fmt(d['min'], spec)}-{fmt(d['max'], spec)}]"
    log(f"  CPU per exec (median [min-max]): file {rng(s['file']['cpu_us_per_exec'], '.1f')} us, "
        f"nats {rng(s['nats']['cpu_us_per_exec'], '.1f')} us; nats/file per round {rng(s['cpu_ratio'], '.3f')}")
    log(f"  CPU per event put out: file {rng(s['file']['cpu_us_per_event'], '.1f')} us, nats "
        f"{rng(s['nats']['cpu_us_per_event'], '.1f')} us; nats/file per round {rng(s['cpu_per_event_ratio'], '.3f')}")
    log(f"  nats-server CPU per exec {rng(s['nats']['server_cpu_us_per_exec'], '.1f')} us (not procmon's)")
    log(f"  storm wall time nats/file per round {rng(s['wall_ratio'], '.3f')}; delivered "
        f"file {s['file']['delivered']}/{s['file']['happened']}, nats {s['nats']['delivered']}/"
        f"{s['nats']['happened']}")


def fleet_fill(fl, res):
    """A spool of FLEET_SPOOL_MB of real events: procmon publishing to a
    server that is not running, exec storms until the spool is that big."""
    srv = fl.server("down")  # never started: its port refuses
    spool = os.path.join(fl.base, "spool-fill")
    cfg = fleet_config(fl.base, "fill", "none", srv, spool, spool_mb=FLEET_SPOOL_MB * 2 + 16)
    pm = Procmon(config=cfg)
    target = FLEET_SPOOL_MB << 20
    t0 = time.monotonic()
    try:
        pm.start()
        execs = 0
        while spool_bytes(spool) < target:
            w = storms(2, 0, ["-t", "1"])
            execs += sum(w["happened"].values())
            if time.monotonic() - t0 > 900:
                raise BenchError(f"spool still {spool_bytes(spool) >> 20} MB after 15 min of storms")
        pm.drain()
        st = pm.stop()
    except BenchError as e:
        pm.kill()
        raise BenchError(f"filling the spool: {e}")
    finally:
        pm.cleanup_files()
    n = st.get("nats", {})
    if not n.get("spooled"):
        raise BenchError(f"filling the spool: procmon reports nothing spooled: {st.get('nats_at_exit')}")
    if n.get("dropped"):
        raise BenchError(f"filling the spool: procmon dropped {n['dropped']} events (spool bound)")
    res["spool"] = {"events": n["spooled"], "bytes": n.get("spooled_bytes") or spool_bytes(spool),
                    "execs": execs, "fill_s": round(time.monotonic() - t0, 1)}
    log(f"  spool filled with the server down: {n['spooled']} events, "
        f"{res['spool']['bytes'] / 2**20:.1f} MiB ({execs} execs, {res['spool']['fill_s']} s)")
    orig = spool + ".orig"
    os.rename(spool, orig)
    return orig, n["spooled"]


def fleet_floor_run(fl, n=None, size=1024, msgid=0):
    """nats_pub's rate, and its own CPU (user + system, from wait4) per
    acknowledged message: what libnats costs a client at best."""
    srv = fl.server().start()
    try:
        p = spawn([os.path.join(DIR, "nats_pub"), srv.url, "FLOOR", str(n or FLEET_PUB_N), str(size),
                   "4096", str(msgid)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        LIVE.discard(p)
        fields = out.split()
        if p.returncode != 0 or len(fields) != 3:
            raise BenchError(f"nats_pub exit {p.returncode}: {out.strip()[-300:]}")
        return {"acked": int(fields[0]), "seconds": float(fields[1]), "rate": float(fields[2]),
                "cpu_us_per_msg": (ru.ru_utime + ru.ru_stime) * 1e6 / max(int(fields[0]), 1)}
    finally:
        srv.stop(remove_store=True)


def fleet_drain_run(fl, orig, events):
    """procmon started on a copy of the filled spool, the server up: the
    time until the stream holds every spooled event."""
    np = natsproto()
    srv = fl.server().start()
    spool = os.path.join(fl.base, "spool-drain")
    shutil.rmtree(spool, ignore_errors=True)
    shutil.copytree(orig, spool)
    cfg = fleet_config(fl.base, "drain", "none", srv, spool, spool_mb=FLEET_SPOOL_MB * 2 + 16)
    pm = Procmon(config=cfg)
    rec = {}
    seen = {"first": None, "done": None, "n": 0, "error": None}
    stop = threading.Event()

    def poll():
        # from before procmon's exec: it publishes before its ready line
        try:
            with np.Client(srv.port, timeout=5) as c:
                while not stop.is_set():
                    n = c.stream_count(FLEET_STREAM)
                    t = time.monotonic()
                    seen["n"] = n
                    if n and seen["first"] is None:
                        seen["first"] = (t, n)
                    if n >= events:
                        seen["done"] = t
                        return
                    time.sleep(0.02)
        except (OSError, np.NatsError) as e:
            seen["error"] = str(e)
    poller = threading.Thread(target=poll, daemon=True)
    try:
        poller.start()
        pm.start(idle=False)
        deadline = time.monotonic() + max(120, FLEET_SPOOL_MB * 3)
        while poller.is_alive():
            poller.join(0.1)
            pm.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"stream holds {seen['n']} of {events} spooled events after "
                                 f"{time.monotonic() - pm.t_spawn:.0f} s")
        if seen["done"] is None:
            raise BenchError(f"reading the stream's count: {seen['error']}")
        t = seen["done"]
        first = seen["first"]
        rec["drain_s"] = t - pm.t_spawn  # from procmon's exec: start-up and spool scan included
        rec["ready_s"] = pm.ready_s
        if t > first[0]:
            rec["rate"] = (events - first[1]) / (t - first[0])  # first ack seen to the last
        pm.wait_idle()
        rec.update(pm.stop())
    except BenchError:
        pm.kill()
        raise
    finally:
        stop.set()
        poller.join(10)
        pm.cleanup_files()
        srv.stop(remove_store=True)
        shutil.rmtree(spool, ignore_errors=True)
    return rec


def fleet_drain(fl, res):
    log(f"-- sustained rate: nats_pub ({FLEET_PUB_N} x 1 KiB, async JetStream publish, file storage, "
        f"window 4096) against procmon draining a {FLEET_SPOOL_MB} MiB spool of real events, "
        f"{FLEET_DRAIN_ROUNDS} rounds, order alternating, a fresh server each")
    orig, events = fleet_fill(fl, res)
    # also the floor for messages like procmon's: their mean size, a Nats-Msg-Id each
    like = int(res["spool"]["bytes"] / events)
    rounds = []
    for r in range(FLEET_DRAIN_ROUNDS):
        order = ["floor", "procmon", "floor_like"] if r % 2 == 0 else ["floor_like", "procmon", "floor"]
        x = {"round": r + 1, "order": order}
        for m in order:
            try:
                x[m] = (fleet_floor_run(fl) if m == "floor" else
                        fleet_floor_run(fl, max(events, 20000), like, 1) if m == "floor_like" else
                        fleet_drain_run(fl, orig, events))
            except BenchError as e:
                problem(f"fleet drain/{m}: {e}")
                x[m] = {"error": str(e)}
        fr, pr, lr = x["floor"].get("rate"), x["procmon"].get("rate"), x["floor_like"].get("rate")
        if fr and pr:
            x["fraction"] = pr / fr
        if lr and pr:
            x["fraction_like"] = pr / lr
        rounds.append(x)
        log(f"  round {r + 1} ({order[0]} first): floor {fmt(fr, '.0f')} msgs/s | procmon drain "
            f"{fmt(pr, '.0f')} msgs/s, all {events} in {fmt(x['procmon'].get('drain_s'), '.2f')} s "
            f"from its start | procmon/floor {fmt(x.get('fraction'), '.3f')} | floor with {like} B "
            f"and msg ids {fmt(lr, '.0f')} msgs/s, procmon/that {fmt(x.get('fraction_like'), '.3f')}")
    shutil.rmtree(orig, ignore_errors=True)
    res["drain_rounds"] = rounds
    for k, path in (("floor_rate", ("floor", "rate")), ("procmon_rate", ("procmon", "rate")),
                    ("floor_like_rate", ("floor_like", "rate")),
                    ("floor_cpu_us", ("floor", "cpu_us_per_msg")),
                    ("floor_like_cpu_us", ("floor_like", "cpu_us_per_msg")),
                    ("drain_s", ("procmon", "drain_s"))):
        xs = [r[path[0]].get(path[1]) for r in rounds if r[path[0]].get(path[1])]
        res[k] = {"median": med(xs), "min": min(xs) if xs else None, "max": max(xs) if xs else None}
    fr = [r["fraction"] for r in rounds if "fraction" in r]
    res["fraction"] = {"median": med(fr), "min": min(fr) if fr else None, "max": max(fr) if fr else None}
    fr = [r["fraction_like"] for r in rounds if "fraction_like" in r]
    res["fraction_like"] = {"median": med(fr), "min": min(fr) if fr else None, "max": max(fr) if fr else None}
    res["like_bytes"] = like
    sp = res["spool"]
    ev_b = sp["bytes"] / max(sp["events"], 1)
    if res["floor_rate"]["median"] and res["procmon_rate"]["median"]:
        res["bytes_fraction"] = res["procmon_rate"]["median"] * ev_b / (res["floor_rate"]["median"] * 1024)
        log(f"  in bytes: floor {res['floor_rate']['median'] * 1024 / 2**20:.1f} MiB/s, procmon "
            f"{res['procmon_rate']['median'] * ev_b / 2**20:.1f} MiB/s of spooled records "
            f"({res['bytes_fraction']:.2f} of the floor)")
    log(f"  nats_pub's own CPU per acknowledged message (libnats at best, in a tight loop): "
        f"{fmt(res['floor_cpu_us']['median'], '.1f')} us at 1 KiB, "
        f"{fmt(res['floor_like_cpu_us']['median'], '.1f')} us at {like} B with msg ids")
    log(f"  floor {fmt(res['floor_rate']['median'], '.0f')} msgs/s, procmon "
        f"{fmt(res['procmon_rate']['median'], '.0f')} msgs/s ({sp['bytes'] / max(sp['events'], 1):.0f} B/event): "
        f"{fmt(res['fraction']['median'], '.3f')} of the floor "
        f"[{fmt(res['fraction']['min'], '.3f')}-{fmt(res['fraction']['max'], '.3f')}]; "
        f"{sp['bytes'] / 2**20:.1f} MiB spool drained in {fmt(res['drain_s']['median'], '.2f')} s (median)")


def fleet_loss(fl, res):
    log(f"-- no loss: 2 parallel storms of {N}, server up; 1 storm of {FLEET_RESTART_N}, "
        f"server kill -9 and restarted on its store in the middle")
    for case in ("two_storms", "restart"):
        srv = fl.server().start()
        spool = os.path.join(fl.base, f"spool-{case}")
        cfg = fleet_config(fl.base, case, "none", srv, spool)
        pm = Procmon(config=cfg)
        rec = {}
        try:
            pm.start()
            if case == "two_storms":
                w = storms(2, N)
            else:
                p = spawn([STORM, str(FLEET_RESTART_N)], stdout=subprocess.PIPE, text=True)
                # kill the server once the storm is well under way: a third
                # of its execs published
                t0 = time.monotonic()
                while (srv.count() or 0) < FLEET_RESTART_N * 4 // 3:  # ~4 events per exec
                    if p.poll() is not None or time.monotonic() - t0 > 120:
                        break
                    time.sleep(0.05)
                rec["count_at_kill"] = srv.count()
                srv.kill9()
                rec["killed_after_s"] = round(time.monotonic() - t0, 2)
                time.sleep(1)
                srv.start()
                rec["restarted_before_storm_end"] = p.poll() is None
                out = p.communicate()[0]
                if reap(p) != 0:
                    raise BenchError("exec_storm failed")
                w = {"pids": [p.pid], "happened": {p.pid: FLEET_RESTART_N}, "seconds": float(out.split()[0])}
            # wait (on the stream, at most 60 s) until the storm's execs are in
            t0 = time.monotonic()
            while True:
                got, dups, bad = stream_execs(srv, w["pids"], fl.base)
                if sum(got.values()) >= sum(w["happened"].values()) or time.monotonic() - t0 > 60:
                    break
                time.sleep(0.5)
            rec.update(pm.stop())
            got, dups, bad = stream_execs(srv, w["pids"], fl.base)
            rec["storms"] = [[q, w["happened"][q], got[q]] for q in w["pids"]]
            rec["happened"] = sum(w["happened"].values())
            rec["delivered"] = sum(got.values())
            rec["duplicates"] = dups
            rec["bad_lines"] = bad
        except BenchError as e:
            problem(f"fleet loss/{case}: {e}")
            rec["error"] = str(e)
            pm.kill()
        finally:
            pm.cleanup_files()
            srv.stop(remove_store=True)
        res[case] = rec
        if "delivered" in rec:
            n = rec.get("nats", {})
            log(f"  {case}: storm execs in the stream {rec['delivered']}/{rec['happened']} "
                f"(duplicates {rec['duplicates']}), lost counters {rec['lost']}, "
                f"spooled at exit {n.get('spooled')}, dropped {n.get('dropped')}, "
                f"reconnects {n.get('reconnects')}"
                + (f"; killed {rec['killed_after_s']} s in, with {rec['count_at_kill']} messages in the stream"
                   if case == "restart" else ""))


def leftover_servers():
    out = subprocess.run(["pgrep", "-a", "-x", "nats-server"], stdout=subprocess.PIPE, text=True).stdout
    return [l for l in out.splitlines() if FLEET_TAG in l]


FLEET_LONE = 10  # lone execs of the latency part, each after a quiet spell


def fleet_latency(fl, res):
    """From an event's timestamp to its message at a core subscriber of the
    stream's subjects (nats.batch_ms at its default): lone execs, each
    after a quiet spell, then a storm."""
    n = LAT_N or 300
    log(f"-- latency to a subscriber: {FLEET_LONE} lone execs, each after 0.2 s of quiet, "
        f"then a storm of {n} execs")
    np = natsproto()
    srv = fl.server().start()
    cfg = fleet_config(fl.base, "latency", "none", srv, os.path.join(fl.base, "spool-latency"))
    got, stop = [], threading.Event()
    client = np.Client(srv.port, timeout=5)
    client.subscribe("procmon.>")

    def receive():
        while not stop.is_set():
            try:
                m = client.next_msg(0.2)
            except (OSError, np.NatsError):
                return
            if m:
                got.append((time.time_ns() / 1e6, m[2]))
    rx = threading.Thread(target=receive, daemon=True)
    rx.start()

    def execs_seen(pred):
        out = []
        for t, raw in list(got):
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            if e.get("type") == "ProcessExec" and pred(e):
                out.append(t - iso_ms(e["timestamp"]))
        return out
    spid = None

    def storm_pred(e):
        return (e.get("parent") or {}).get("pid") == spid and e["process"].get("filename") == "true"
    pm = Procmon(config=cfg)
    rec = {}
    try:
        pm.start()
        for i in range(FLEET_LONE):
            time.sleep(0.2)  # the quiet spell before it: what this part measures
            tag = f"bench-lone-{i}"
            run(["/bin/true", tag])
            t0 = time.monotonic()
            while not execs_seen(lambda e: e["process"].get("args") == tag):
                if time.monotonic() - t0 > 10:
                    raise BenchError(f"lone exec {i} not published within 10 s")
                time.sleep(0.005)
        spid = storms(1, n)["pids"][0]
        t0 = time.monotonic()
        while len(execs_seen(storm_pred)) < n and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        rec.update(pm.stop())
    except BenchError as e:
        problem(f"fleet latency: {e}")
        pm.kill()
    finally:
        stop.set()
        rx.join(5)
        client.close()
        srv.stop(remove_store=True)
    lone = sorted(execs_seen(lambda e: str(e["process"].get("args", "")).startswith("bench-lone-")))
    storm = sorted(execs_seen(storm_pred)) if spid else []
    for name, xs in (("lone", lone), ("storm", storm)):
        rec[name] = {"events": len(xs), "p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99),
                     "max_ms": xs[-1] if xs else None}
        log(f"  {name} execs {len(xs):>5}: p50 {fmt(pct(xs, 50), '.1f')} ms, p99 "
            f"{fmt(pct(xs, 99), '.1f')} ms, max {fmt(xs[-1] if xs else None, '.1f')} ms")
    res["latency"] = rec


def phase_fleet():
    log("== fleet output: NATS JetStream (nats-server on 127.0.0.1, its own store)")
    res = {}
    fl = Fleet()
    try:
        if FLEET_ROUNDS:
            fleet_exec(fl, res)
        if FLEET_DRAIN_ROUNDS:
            try:
                fleet_drain(fl, res)
            except BenchError as e:
                problem(f"fleet drain: {e}")
        fleet_loss(fl, res)
        fleet_latency(fl, res)
    finally:
        for f in list(CLEANUPS):
            if getattr(f, "__self__", None) is not None and isinstance(f.__self__, NatsServer):
                f()
                CLEANUPS.remove(f)
        fl.cleanup()
        CLEANUPS.remove(fl.cleanup)
        left = leftover_servers()
        if left:
            problem(f"fleet: nats-server left running: {left}")
    log()
    return res


# ---------------------------------------------------------------- set-up

def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_packages():
    need = []
    if "auditd" in MON_NAMES and not (installed("auditd") and shutil.which("auditd")):
        need.append("auditd")
    if "execsnoop" in MON_NAMES and not os.access(EXECSNOOP, os.X_OK):
        need.append("libbpf-tools")
    if not shutil.which("gcc"):
        need.append("gcc")
    if "build" in WL_NAMES and not shutil.which("make"):
        need.append("make")
    if FLEET:
        need += [p for p in ("nats-server", "libnats-dev") if not installed(p)]
    if not need:
        return
    log(f"suite.py: installing {' '.join(need)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # No service may start from the install (a system auditd would take the
    # audit socket): policy-rc.d 101 = "action forbidden", unless one exists.
    prc = "/usr/sbin/policy-rc.d"
    made = False
    if not os.path.exists(prc):
        with open(prc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(prc, 0o755)
        made = True
    try:
        cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need]
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
            if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
                die(f"apt-get install {' '.join(need)} failed")
    finally:
        if made:
            os.remove(prc)


def ensure_tracefs():
    if not os.path.isdir("/sys/kernel/tracing/events"):
        r = subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
        if r.returncode != 0 or not os.path.isdir("/sys/kernel/tracing/events"):
            die("tracefs is not mounted at /sys/kernel/tracing and mounting it failed")


def compile_helpers():
    os.makedirs(DIR, exist_ok=True)
    for src, out in (("exec_storm.c", STORM), ("loop.c", LOOP), ("idle_procs.c", IDLE)):
        run(["gcc", "-O2", "-Wall", "-Wextra", "-o", out, os.path.join(ROOT, "bench", src)])
    if FLEET:
        run(["gcc", "-O2", "-Wall", "-Wextra", "-o", os.path.join(DIR, "nats_pub"),
             os.path.join(ROOT, "bench", "nats_pub.c"), "-lnats"])


def cleanup():
    for f in list(CLEANUPS):
        try:
            f()
        except Exception:
            pass
    for p in list(LIVE):
        if p.poll() is None:
            p.kill()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        LIVE.discard(p)
    if AUDIT_TOUCHED:
        subprocess.run(["auditctl", "-D"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["auditctl", "-e", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def reproduce_cmd():
    parts = [f"{k}={shlex.quote(str(v))}" for k, v in KNOBS.items()]
    tail = "make bench" if os.environ.get("MAKELEVEL") else "/usr/bin/python3 bench/suite.py"
    return " ".join(parts + [tail])


# ---------------------------------------------------------------- targets

def targets(results):
    rows = []  # (measure, value, target, met: True/False/None)
    wl = results["workloads"]
    for w, lim in TARGET_RATIO.items():
        if w not in wl or not wl[w]:
            continue
        s = wl[w]["summary"]
        pm = s.get("procmon", {}).get("ratio_median")
        if pm is None:
            continue
        rows.append((f"procmon wall ratio, {w}", f"{pm:.3f}", f"<= {lim}", pm <= lim))
        if w == "build" and s["procmon"].get("first_pass_ratio_median") is not None:
            rows.append(("  procmon first build after its start", f"{s['procmon']['first_pass_ratio_median']:.3f}",
                         "", None))
        others = {m: s[m]["ratio_median"] for m in ("auditd", "execsnoop")
                  if m in s and s[m]["ratio_median"] is not None}
        if others:
            v = ", ".join(f"{m} {r:.3f}" for m, r in others.items())
            rows.append((f"procmon ratio below others, {w}", v, f"> {pm:.3f}",
                         all(pm < r for r in others.values())))
    if wl.get("exec"):
        s = wl["exec"]["summary"]
        pc = s.get("procmon", {}).get("cpu_us_per_exec_median")
        if pc is not None:
            rows.append(("procmon CPU per exec, exec (median)", f"{pc:.1f} us", f"<= {TARGET_CPU_US:.0f} us",
                         pc <= TARGET_CPU_US))
            for m in ("execsnoop", "auditd"):
                oc = s.get(m, {}).get("cpu_us_per_exec_median")
                if oc:
                    rows.append((f"  CPU procmon / {m} ({oc:.1f} us)", f"{pc / oc:.2f}", "", None))
        for m in MON_NAMES:
            x = s.get(m)
            if x:
                rows.append((f"{m}: execs delivered, lost (exec)",
                             f"{x['delivered_total']}/{x['happened_total']}, {x['lost_total']}", "", None))
    ph = results["phases"]
    so = ph.get("soak")
    if so and "delivered" in so:
        ok = so["delivered"] == so["happened"] and so["lost"] == 0
        rows.append((f"no loss, {SOAK_S} s two-storm soak",
                     f"{so['delivered']}/{so['happened']}, lost {so['lost']}", "all, 0", ok))
    rd = ph.get("ready")
    if rd and rd.get("extra", {}).get("median_s") is not None:
        v = rd["extra"]["median_s"]
        rows.append((f"ready time, +{IDLE_PROCS} processes (median)", f"{v:.3f} s", f"< {TARGET_READY_S:.0f} s",
                     v < TARGET_READY_S))
    me = ph.get("memory")
    if me and "max_rss_kb" in me:
        v = me["max_rss_kb"]
        rows.append((f"RSS max, {MEM_LIFETIMES} lifetimes", f"{v / 1024:.1f} MiB",
                     f"< {TARGET_RSS_KB // 1024} MiB", v < TARGET_RSS_KB))
        if "growth_kb" in me:
            g = me["growth_kb"]
            rows.append((f"RSS growth, {me['growth_from']} -> {MEM_LIFETIMES} lifetimes", f"{g / 1024:+.2f} MiB",
                         f"<= {FLAT_KB / 1024:.0f} MiB", g <= FLAT_KB))
    la = ph.get("latency")
    if la and la.get("storm", {}).get("p99_ms") is not None:
        v = la["storm"]["p99_ms"]
        rows.append(("latency p99, storm events", f"{v:.1f} ms", f"< {TARGET_P99_MS:.0f} ms", v < TARGET_P99_MS))
    fl = ph.get("fleet")
    if fl and fl.get("exec"):
        e = fl["exec"]
        c = e["cpu_ratio"]
        if c["median"] is not None:
            rows.append(("fleet: CPU/exec NATS only / file only", f"{c['median']:.3f} [{c['min']:.3f}-{c['max']:.3f}]"
                         f" ({e['file']['cpu_us_per_exec']['median']:.1f} -> "
                         f"{e['nats']['cpu_us_per_exec']['median']:.1f} us)",
                         f"<= {TARGET_FLEET_CPU}", c["median"] <= TARGET_FLEET_CPU))
        ce = e.get("cpu_per_event_ratio", {})
        if ce.get("median") is not None:
            rows.append(("  fleet: CPU/event NATS only / file only", f"{ce['median']:.3f} [{ce['min']:.3f}-{ce['max']:.3f}]",
                         "", None))
        # what libnats alone would add per exec at nats_pub's own cost per
        # message: the lowest ratio a libnats publisher can reach here
        lc = (fl.get("floor_like_cpu_us") or {}).get("median")
        fc = e["file"]["cpu_us_per_exec"]["median"]
        ev = med([r["runs"]["nats"].get("events") for r in fl.get("exec_rounds", [])
                  if r["runs"]["nats"].get("events")])
        if lc and fc and ev:
            add = lc * ev / N
            rows.append(("  libnats alone at nats_pub's CPU/msg", f"+{add:.1f} us/exec: ratio >= "
                         f"{(fc + add) / fc:.3f}", "", None))
        wr = e["wall_ratio"]
        if wr["median"] is not None:
            rows.append(("fleet: storm wall NATS only / file only", f"{wr['median']:.3f} [{wr['min']:.3f}-{wr['max']:.3f}]",
                         f"<= {TARGET_FLEET_WALL}", wr["median"] <= TARGET_FLEET_WALL))
    if fl and fl.get("fraction", {}).get("median") is not None:
        fr = fl["fraction"]
        rows.append(("fleet: spool drain rate / nats_pub rate",
                     f"{fr['median']:.3f} ({fl['procmon_rate']['median']:.0f} / {fl['floor_rate']['median']:.0f} msgs/s)",
                     f">= {TARGET_FLEET_FRACTION}", fr["median"] >= TARGET_FLEET_FRACTION))
        fl_ = fl.get("fraction_like", {})
        if fl_.get("median") is not None:
            rows.append((f"  same, floor with {fl['like_bytes']} B msgs + ids",
                         f"{fl_['median']:.3f} ({fl['procmon_rate']['median']:.0f} / "
                         f"{fl['floor_like_rate']['median']:.0f} msgs/s)", "", None))
        rows.append((f"  fleet: {fl['spool']['bytes'] / 2**20:.0f} MiB spool drained (median)",
                     f"{fl['drain_s']['median']:.2f} s", "", None))
    for case, title in (("two_storms", "fleet: no loss, 2 storms, server up"),
                        ("restart", "fleet: no loss, server kill -9 + restart")):
        r = (fl or {}).get(case)
        if r and "delivered" in r:
            ok = r["delivered"] == r["happened"] and r["lost"] == 0
            rows.append((title, f"{r['delivered']}/{r['happened']}, lost {r['lost']}, dup {r['duplicates']}",
                         "all, 0", ok))
    return rows


def print_targets(rows):
    log("== targets")
    log(f"{'measure':<44}{'value':<32}{'target':<12}verdict")
    for name, value, target, met in rows:
        verdict = "" if met is None else ("met" if met else "MISSED")
        log(f"{name:<44}{value:<32}{target:<12}{verdict}")
    log()


def save(results):
    tmp = os.path.join(DIR, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(DIR, "results.json"))


def main():
    if os.geteuid() != 0:
        die("needs root (BPF, audit)")
    if not os.access(PROCMON_ABS, os.X_OK):
        die(f"{PROCMON} not found or not executable: run make first, or set PROCMON")
    os.chdir(ROOT)
    t_begin = time.monotonic()
    ensure_packages()
    ensure_tracefs()
    compile_helpers()
    if "auditd" in MON_NAMES:
        Auditd.setup()
    version = run([PROCMON_ABS, "--version"], check=False).stdout.strip()
    results = {
        "meta": {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "kernel": os.uname().release, "cpus": os.cpu_count(),
                 "procmon": PROCMON, "procmon_version": version,
                 "auditd": run(["auditctl", "-v"], check=False).stdout.strip() if "auditd" in MON_NAMES else None,
                 "idle_ns_per_window": IDLE_NS, "window_s": WINDOW},
        "knobs": KNOBS, "workloads": {}, "phases": {}, "problems": PROBLEMS,
        "reproduce": reproduce_cmd(),
    }
    log(f"procmon benchmark suite: {PROCMON} ({version}), kernel {os.uname().release}, "
        f"{os.cpu_count()} CPUs, {results['meta']['date_utc']}")
    log(f"monitor modes per round (order rotates): {' '.join(MODES)}")
    fm = foreign_monitors()
    if fm:
        log(f"  WARNING: monitors not started by this script are running and skew every mode: {'; '.join(fm)}")
    with open("/proc/loadavg") as f:
        results["meta"]["loadavg_start"] = f.read().strip()
    log()
    if "build" in WL_NAMES and BUILD_ROUNDS:
        BUILD.setup()
    for w in WL_NAMES:
        results["workloads"][w] = run_workload(w)
        save(results)
    for name, enabled, fn in (("ready", READY_RUNS, phase_ready), ("memory", MEM_LIFETIMES, phase_memory),
                              ("soak", SOAK_S, phase_soak), ("latency", LAT_N, phase_latency),
                              ("fleet", FLEET, phase_fleet)):
        if enabled:
            results["phases"][name] = fn()
            save(results)
    rows = targets(results)
    results["targets"] = [{"measure": a, "value": b, "target": c, "met": d} for a, b, c, d in rows]
    results["wall_s"] = round(time.monotonic() - t_begin, 1)
    save(results)
    print_targets(rows)
    if PROBLEMS:
        log(f"{len(PROBLEMS)} measurement(s) could not be taken:")
        for p in PROBLEMS:
            log(f"  !! {p}")
    log(f"total {results['wall_s'] / 60:.1f} min; results: {os.path.relpath(os.path.join(DIR, 'results.json'))}")
    log(f"reproduce: {results['reproduce']}")
    return 1 if PROBLEMS else 0


def on_signal(sig, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    try:
        status = main()
    except KeyboardInterrupt:
        status = 130
        print("suite.py: interrupted", file=sys.stderr)
    except BenchError as e:
        status = 1
        print(f"suite.py: {e}", file=sys.stderr)
    finally:
        cleanup()
    sys.exit(status)
