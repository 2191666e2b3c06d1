"""bench/suite: knobs, constants, processes and set-up (the package's docstring, __init__.py, has the whole story)."""

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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
TARGET_FLEET_CPU = 1.10  # procmon CPU per exec, NATS only / file only (issue 21)
TARGET_FLEET_WALL = 1.05  # storm wall time, NATS only / file only: "unchanged within noise"
TARGET_FLEET_SERVER_US = 10  # nats-server CPU per exec of the storm
TARGET_FLEET_WIRE_EXEC = 1024  # bytes procmon sends the server per exec: exec storm
TARGET_FLEET_WIRE_BUILD = 3072  # and the build workload's varied execs
TARGET_FLEET_DRAIN = 500_000  # events/s of a spool drained

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
FLEET_SPOOL_EVENTS = knob("FLEET_SPOOL_EVENTS", 300_000)
FLEET_BUILD = knob("FLEET_BUILD", 1)
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
if FLEET and (FLEET_SPOOL_MB < 1 or FLEET_PUB_N < 1 or FLEET_RESTART_N < 1 or FLEET_SPOOL_EVENTS < 1):
    die("FLEET_SPOOL_MB, FLEET_SPOOL_EVENTS, FLEET_PUB_N and FLEET_RESTART_N must be at least 1", 2)
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

