"""Writes into another process's memory (issue 14: items 1 and 6).

/proc/PID/mem opened to write is not a read; a write into a target's
executable memory is an injection by itself (the target runs the new code
without a register change); and a target named only by pid is identified
in the kernel at the call, so it is named even when it is gone by the
time procmon reads the record.
"""

import os
import shutil
import subprocess

import pytest

from helpers import prog, run_prog
from test_limacharlie import lc  # noqa: F401  (the --format limacharlie procmon)
from test_privilege import process_events, results


class RwxTarget:
    """rwx_target, alive until closed: an RWX page, its code, a global."""

    def __init__(self, directory, name="rwx-victim"):
        path = directory / name
        shutil.copy(prog("rwx_target"), path)
        self.proc = subprocess.Popen([str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        words = self.proc.stdout.readline().split()
        assert words[0] == b"ready", words
        self.rwx, self.text, self.data = (int(w) for w in words[1:])
        self.pid = self.proc.pid

    def close(self):
        self.proc.communicate(b"\n", timeout=10)
        assert self.proc.returncode == 0, "the target's memory was changed"


@pytest.fixture
def victim(exec_dir):
    t = RwxTarget(exec_dir)
    yield t
    t.close()


def tamper(*steps):
    run = run_prog("mem_tamper", *steps)
    got = results(run)
    assert all(got[s] >= 0 for s in steps), got
    return run


def injections(pm, pid):
    pm.wait_event("ProcessExit", pid)
    return [[(s["type"], s.get("address")) for s in e["thread_injection"]["events"]]
            for e in pm.events_of("ThreadInjection", pid)]


def test_proc_mem_open_mode(pm, victim):
    """Read-only, write-only and read-write opens of /proc/PID/mem say so."""
    t = victim.pid
    run = tamper(f"open:{t},r", f"open:{t},w", f"open:{t},rw")
    evs = process_events(pm, run.pid, "PtraceAccessCheck")
    assert [(e["process_event"]["access"], e["process_event"]["open_mode"]) for e in evs] == [
        ("proc_pid_mem", "read"), ("proc_pid_mem", "write"), ("proc_pid_mem", "read_write")]
    assert all(e["process_event"]["child"]["pid"] == t for e in evs)


def test_proc_mem_write_to_code_is_an_injection(pm, victim):
    """pwrite, and lseek + write, into the target's code through
    /proc/PID/mem: a ThreadInjection each, with no register change; a write
    to its data is none."""
    t = victim.pid
    code = tamper(f"pwrite:{t},{victim.text}")
    assert injections(pm, code.pid) == [
        [("PROC_PID_MEM_WRITE", None), ("PROC_PID_MEM_CODE_WRITE", victim.text)]]
    ev = pm.events_of("ThreadInjection", code.pid)[0]
    assert ev["thread_injection"]["target"]["pid"] == t
    seq = tamper(f"write:{t},{victim.text + 1}")
    assert injections(pm, seq.pid) == [
        [("PROC_PID_MEM_WRITE", None), ("PROC_PID_MEM_CODE_WRITE", victim.text + 1)]]
    data = tamper(f"pwrite:{t},{victim.data}", f"write:{t},{victim.data}")
    assert injections(pm, data.pid) == []


def test_process_vm_writev_to_code_is_an_injection(pm, victim):
    """process_vm_writev into the target's RWX page: a ThreadInjection;
    into its data, none."""
    t = victim.pid
    run = tamper(f"vm-write:{t},{victim.rwx}")
    assert injections(pm, run.pid) == [
        [("PROCESS_VM_WRITEV", None), ("PROCESS_VM_WRITEV_CODE_WRITE", victim.rwx)]]
    data = tamper(f"vm-write:{t},{victim.data}")
    assert injections(pm, data.pid) == []


def test_code_write_limacharlie(lc, exec_dir):  # noqa: F811
    victim = RwxTarget(exec_dir, "rwx-victim-lc")
    try:
        since = lc.mark()
        run = tamper(f"open:{victim.pid},rw", f"pwrite:{victim.pid},{victim.text}")
        ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "THREAD_INJECTION"
                         and e["event"]["EVENTS"][0]["event"]["SOURCE"]["PROCESS_ID"] == run.pid,
                         since=since, what="THREAD_INJECTION")
        handles = lc.find(lambda e: e["routing"]["event_type"] == "REMOTE_PROCESS_HANDLE"
                          and e["event"]["PARENT_PROCESS_ID"] == run.pid, since)
    finally:
        victim.close()
    assert [h["event"]["OPEN_MODE"] for h in handles] == ["read_write", "read_write"]
    steps = ev["event"]["EVENTS"]
    assert [(s["routing"]["event_type"], s["event"].get("ACCESS"), s["event"].get("ADDRESS"))
            for s in steps] == [
        ("REMOTE_PROCESS_HANDLE", "PROC_PID_MEM_WRITE", None),
        ("REMOTE_PROCESS_HANDLE", "PROC_PID_MEM_WRITE", None),
        ("PROC_PID_MEM_CODE_WRITE", None, victim.text)]
    assert steps[2]["event"]["TARGET"]["PROCESS_ID"] == victim.pid


def test_target_gone_before_procmon_reads_is_still_named(pm):
    """process_vm_readv of a child killed and reaped right after: the
    kernel named it at the call, so the event has the child (and its
    exec_id), not null."""
    run = run_prog("mem_tamper", "vm-read-gone")
    child = results(run)["vm-read-gone"]
    assert child > 0
    evs = process_events(pm, run.pid, "PtraceAccessCheck")
    assert [e["process_event"]["access"] for e in evs] == ["process_vm_readv"]
    got = evs[0]["process_event"]["child"]
    assert got is not None and got["pid"] == child and got["ppid"] == run.pid
    clone = pm.wait_event("ProcessClone", child)
    assert got["exec_id"] == clone["process"]["exec_id"]
