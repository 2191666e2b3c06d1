"""ProcessEvent: Setuid, Setgid, Setcaps, Prctl, CreateUserNs, PtraceAccessCheck.

Each test runs build/progs/priv_calls, which makes the raw syscalls it is
told to and prints each result, then asserts on the exact events of that
pid. The shared procmon runs the default configuration (every hook on, no
filter); the filter tests start their own with a configuration file.
"""

import errno
import os
import shutil
import subprocess

import pytest

from helpers import (
    CAP_NAMES, NOBODY, Procmon, assert_fields, check_process_shape, fmt_caps,
    prog, run_prog,
)

CAP_NET_RAW, CAP_SYS_ADMIN, CAP_CHOWN = 13, 21, 0
ATTACH_REAL = "PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS"
ATTACH_FS = "PTRACE_MODE_ATTACH | PTRACE_MODE_FSCREDS"


def results(run):
    """{'step': result} from priv_calls' 'STEP RESULT' lines."""
    out = {}
    for line in run.stdout.decode().splitlines():
        step, _, value = line.rpartition(" ")
        out[step] = int(value)
    return out


def priv_calls(*steps, expect=None):
    """Run priv_calls; check each step's result against expect (default 0)."""
    run = run_prog("priv_calls", *steps)
    got = results(run)
    for step in steps:
        want = (expect or {}).get(step, 0)
        assert got.get(step) == want, f"{step}: result {got.get(step)}, expected {want}"
    return run


def process_events(view, pid, subtype=None):
    """The ProcessEvents of pid, in output order, once its exit is out (the
    ring buffer is ordered, so every event of the process is then in)."""
    view.wait_event("ProcessExit", pid)
    return [e for e in view.find(lambda e: e.get("type") == "ProcessEvent"
                                 and e["process"]["pid"] == pid)
            if subtype is None or e["process_event"]["type"] == subtype]


def check_caller(ev, pid, **fields):
    """The event's process is priv_calls (pid) as the call left it; its
    parent is this test process."""
    check_process_shape(ev["process"])
    assert_fields(ev["process"], {"pid": pid, "filename": "priv_calls",
                                  "binary_path": prog("priv_calls"),
                                  "ppid": os.getpid(), **fields}, "process")
    assert ev["parent"] is not None, "parent missing"
    check_process_shape(ev["parent"], "parent")
    assert ev["parent"]["pid"] == os.getpid()


# --------------------------------------------------------------------------
# Setuid / Setgid


SETID_CASES = [
    # (step, LSM_SETID flag, (real, effective, fs) id after the call)
    ("set{}id:65534", "LSM_SETID_ID", (NOBODY, NOBODY, NOBODY)),
    ("setre{}id:1000,2000", "LSM_SETID_RE", (1000, 2000, 2000)),
    ("setres{}id:3000,4000,5000", "LSM_SETID_RES", (3000, 4000, 4000)),
    # setfs*id returns the old fs id (0), never an error
    ("setfs{}id:1234", "LSM_SETID_FS", (0, 0, 1234)),
]


@pytest.mark.parametrize("kind", ["u", "g"], ids=["Setuid", "Setgid"])
@pytest.mark.parametrize("step,flags,after", SETID_CASES, ids=lambda c: str(c)[:14])
def test_setid_family(pm, kind, step, flags, after):
    """One Setuid/Setgid per call, with the ids as the call left them, in
    the event and in the process object."""
    step = step.format(kind)
    run = priv_calls(step)
    subtype = "Setuid" if kind == "u" else "Setgid"
    evs = process_events(pm, run.pid, subtype)
    assert len(evs) == 1, evs
    real, effective, fs = after
    assert evs[0]["process_event"] == {"type": subtype, f"{kind}id": real,
                                       f"e{kind}id": effective, f"fs{kind}id": fs,
                                       "flags": flags}
    check_caller(evs[0], run.pid, **{f"{kind}id": real, f"e{kind}id": effective})


def test_failed_setuid_is_no_event_and_changes_nothing(pm):
    """After dropping to nobody, setuid(0) fails: no event, and the next
    event of the process still shows uid 65534."""
    run = priv_calls("setresuid:65534,65534,65534", "setuid:0", "setfsuid:0",
                     "prctl-name:after-fail",
                     expect={"setuid:0": -errno.EPERM, "setfsuid:0": NOBODY})
    setuids = process_events(pm, run.pid, "Setuid")
    assert [e["process_event"]["flags"] for e in setuids] == ["LSM_SETID_RES"], setuids
    prctl, = process_events(pm, run.pid, "Prctl")
    check_caller(prctl, run.pid, uid=NOBODY, euid=NOBODY)
    exit_ev = pm.wait_event("ProcessExit", run.pid)
    assert (exit_ev["process"]["uid"], exit_ev["process"]["euid"]) == (NOBODY, NOBODY)


# --------------------------------------------------------------------------
# Setcaps


def test_setcaps(pm):
    """capset to CAP_NET_RAW + CAP_SYS_ADMIN: the seed's example."""
    both = 1 << CAP_NET_RAW | 1 << CAP_SYS_ADMIN
    run = priv_calls(f"capset:{both:x},{both:x},0")
    ev, = process_events(pm, run.pid, "Setcaps")
    assert ev["process_event"] == {"type": "Setcaps",
                                   "effective": "CAP_NET_RAW | CAP_SYS_ADMIN",
                                   "inheritable": "",
                                   "permitted": "CAP_NET_RAW | CAP_SYS_ADMIN"}
    check_caller(ev, run.pid, cap_effective="CAP_NET_RAW | CAP_SYS_ADMIN",
                 cap_permitted="CAP_NET_RAW | CAP_SYS_ADMIN", cap_inheritable="")


def test_failed_capset_is_no_event(pm):
    """Raising a capability beyond the permitted set fails: no event."""
    raw = 1 << CAP_NET_RAW
    run = priv_calls(f"capset:{raw:x},{raw:x},0", "capset:1,1,0",
                     expect={"capset:1,1,0": -errno.EPERM})
    evs = process_events(pm, run.pid, "Setcaps")
    assert [e["process_event"]["effective"] for e in evs] == ["CAP_NET_RAW"]


# --------------------------------------------------------------------------
# Prctl


def test_prctl_decoding(pm):
    steps = {
        "prctl-name:pm-test-name": {"PrSetName": {"name": "pm-test-name"}},
        "prctl:4,0": {"PrSetDumpable": 0},
        "prctl:8,1": {"PrSetKeepCaps": 1},
        "prctl:28,16": {"PrSetSecurebits": 16},          # SECBIT_KEEP_CAPS
        "prctl:38,1": {"PrSetNoNewPrivs": 1},
        "prctl:47,1,13": {"PrCapAmbient": {"op": "PR_CAP_AMBIENT_IS_SET",
                                           "cap": "CAP_NET_RAW"}},
        "prctl:24,13": {"PrCapbsetDrop": "CAP_NET_RAW"},
        "prctl:36,1": {"PrSetChildSubreaper": 1},
        "prctl:3,0": {"Opcode": 3},                       # PR_GET_DUMPABLE
        "prctl:4,5": None,                                # EINVAL: no event
    }
    run = priv_calls(*steps, expect={"prctl:3,0": 0, "prctl:4,5": -errno.EINVAL})
    evs = process_events(pm, run.pid, "Prctl")
    assert [e["process_event"]["cmd"] for e in evs] == \
        [cmd for cmd in steps.values() if cmd is not None]
    check_caller(evs[0], run.pid)


def test_prctl_name_is_cut_as_the_kernel_cuts_it(pm):
    run = priv_calls("prctl-name:" + "n" * 40 + '"\\')
    ev, = process_events(pm, run.pid, "Prctl")
    assert ev["process_event"]["cmd"] == {"PrSetName": {"name": "n" * 15}}


# --------------------------------------------------------------------------
# CreateUserNs


@pytest.mark.parametrize("step", ["unshare-user", "clone-user", "clone3-user"])
def test_create_user_ns(pm, step):
    run = run_prog("priv_calls", step)
    assert results(run)[step] >= 0, run.stdout
    evs = process_events(pm, run.pid, "CreateUserNs")
    assert len(evs) == 1, evs
    assert evs[0]["process_event"] == {"type": "CreateUserNs"}
    check_caller(evs[0], run.pid)


# --------------------------------------------------------------------------
# PtraceAccessCheck


class Target:
    """A copy of wait_line, alive until closed: the process to access."""

    def __init__(self, directory, name="target"):
        self.path = directory / name
        shutil.copy(prog("wait_line"), self.path)
        self.proc = subprocess.Popen([str(self.path), "7", "arg-x"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().startswith(b"ready ")
        self.pid = self.proc.pid

    def close(self):
        self.proc.communicate(b"\n", timeout=10)

    def check_child(self, child):
        check_process_shape(child, "child")
        assert_fields(child, {"pid": self.pid, "tid": self.pid, "ppid": os.getpid(),
                              "filename": self.path.name, "binary_path": str(self.path),
                              "args": "7 arg-x", "cloned": False}, "child")


@pytest.fixture
def target(exec_dir):
    t = Target(exec_dir)
    yield t
    t.close()


def access_events(pm, pid):
    return [(e["process_event"]["access"], e["process_event"])
            for e in process_events(pm, pid, "PtraceAccessCheck")]


def test_ptrace_access_every_way(pm, target):
    """Attach, seize, process_vm_readv/writev, /proc/PID/mem by three path
    forms, pidfd_getfd: one event each, with the target as child. Access
    to itself is no event."""
    t = target.pid
    steps = [f"ptrace-attach:{t}", f"ptrace-seize:{t}", f"vm-read:{t}", f"vm-write:{t}",
             f"mem:/proc/{t}/mem", f"mem:/proc/{t}/task/{t}/mem", f"mem-at:/proc/{t},mem",
             f"pidfd-getfd:{t}", "mem:/proc/self/mem"]
    run = run_prog("priv_calls", *steps)
    got = results(run)
    assert all(got[s] >= 0 for s in steps), got
    evs = access_events(pm, run.pid)
    assert [(a, e["mode"]) for a, e in evs] == [
        ("PTRACE_ATTACH", ATTACH_REAL), ("PTRACE_SEIZE", ATTACH_REAL),
        ("process_vm_readv", ATTACH_REAL),
        # vm-write reads the byte, then writes it back
        ("process_vm_readv", ATTACH_REAL), ("process_vm_writev", ATTACH_REAL),
        ("proc_pid_mem", ATTACH_FS), ("proc_pid_mem", ATTACH_FS), ("proc_pid_mem", ATTACH_FS),
        ("pidfd_getfd", ATTACH_REAL)]
    for _, e in evs:
        assert "error" not in e
        target.check_child(e["child"])
    check_caller(process_events(pm, run.pid, "PtraceAccessCheck")[0], run.pid)


def test_empty_process_vm_call_is_no_access(pm, target):
    """process_vm_readv with no iovecs returns 0 without any check: not an
    access, not even to PID 1."""
    run = priv_calls(f"vm-empty:{target.pid}", "vm-empty:1")
    assert access_events(pm, run.pid) == []
    assert pm.events_of("SensitiveProcessAccess", run.pid) == []


def test_granted_access_that_faults_is_reported_with_the_error(pm, exec_dir):
    """process_vm_readv/writev at an unmapped remote address: the kernel
    granted access (mm_access), then the copy faulted. Reported, with
    EFAULT, as Bombini's hook reports the check whatever the copy does; a
    target named sshd makes it a SensitiveProcessAccess too. A call that
    faults on its own arguments (unreadable iovec array, a kernel address
    as buffer) before any check is no access."""
    target = Target(exec_dir, "sshd")
    try:
        t = target.pid
        steps = [f"vm-fault-read:{t}", f"vm-fault-write:{t}", f"vm-badvec:{t}",
                 f"vm-badbuf:{t}"]
        run = priv_calls(*steps, expect={s: -errno.EFAULT for s in steps})
        evs = access_events(pm, run.pid)
    finally:
        target.close()
    assert [(a, e["mode"], e["error"]) for a, e in evs] == [
        ("process_vm_readv", ATTACH_REAL, "EFAULT"),
        ("process_vm_writev", ATTACH_REAL, "EFAULT")]
    for _, e in evs:
        target.check_child(e["child"])
    sensitive = pm.events_of("SensitiveProcessAccess", run.pid)
    assert [e["process_event"] for e in sensitive] == [e for _, e in evs]


def test_denied_access_is_reported_with_the_error(pm, target):
    """nobody trying to reach a root process: refused, and reported."""
    t = target.pid
    steps = [f"ptrace-attach:{t}", f"vm-read:{t}", f"pidfd-getfd:{t}"]
    run = run_prog("runas", str(NOBODY), str(NOBODY), prog("priv_calls"), *steps)
    got = results(run)
    assert all(got[s] == -errno.EPERM for s in steps), got
    evs = access_events(pm, run.pid)
    assert [(a, e["error"]) for a, e in evs] == [
        ("PTRACE_ATTACH", "EPERM"), ("process_vm_readv", "EPERM"), ("pidfd_getfd", "EPERM")]
    for _, e in evs:
        target.check_child(e["child"])


def test_ptrace_of_a_process_older_than_procmon(exec_dir):
    """The child object comes from the /proc scan: complete."""
    target = Target(exec_dir, "old-target")
    procmon = Procmon()
    try:
        procmon.wait_ready()
        run = priv_calls(f"ptrace-attach:{target.pid}")
        ev = procmon.wait_for(lambda e: e.get("type") == "ProcessEvent"
                              and e["process"]["pid"] == run.pid
                              and e["process_event"]["type"] == "PtraceAccessCheck",
                              what="PtraceAccessCheck")
        target.check_child(ev["process_event"]["child"])
    finally:
        target.close()
        assert procmon.stop() == 0
    assert not procmon.bad_lines
