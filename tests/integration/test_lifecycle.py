"""ProcessExec, ProcessClone and ProcessExit for real processes.

Every test creates its own processes and looks only at events whose pid it
knows. "Exactly one" counts are taken once the pid's ProcessExit has been
seen: the ring buffer is ordered, so by then every earlier event of that
process is in the output.
"""

import os
import subprocess
import time

import pytest

from helpers import (
    assert_fields, assert_hash_if_present, check_event_shape, parse_time,
    prog, root_exec_caps, run_prog, sha256_of, tagged_ints, this_process,
    this_process_start,
)

CLOCK_SLACK = 1.0  # s: ms rounding plus boot-time -> UTC conversion


def assert_one(pm, etype, pid):
    found = pm.events_of(etype, pid)
    assert len(found) == 1, f"{len(found)} {etype} events for pid {pid}: {found}"
    return found[0]


def assert_in_window(stamp, t0, t1, what):
    t = parse_time(stamp)
    assert t0 - CLOCK_SLACK <= t <= t1 + CLOCK_SLACK, \
        f"{what} {stamp} is outside the run [{t0:.3f}, {t1:.3f}]"


def test_ls_exec_and_exit(pm, tmp_path):
    (tmp_path / "some-file").write_bytes(b"x")
    ls = os.path.realpath("/usr/bin/ls")
    me = this_process()

    t0 = time.time()
    p = subprocess.Popen(["/usr/bin/ls", "-lah", str(tmp_path)],
                         stdout=subprocess.DEVNULL)
    assert p.wait(30) == 0
    t1 = time.time()

    pm.wait_event("ProcessExit", p.pid)
    clone = assert_one(pm, "ProcessClone", p.pid)
    exec_ = assert_one(pm, "ProcessExec", p.pid)
    exit_ = assert_one(pm, "ProcessExit", p.pid)
    for ev in (clone, exec_, exit_):
        check_event_shape(ev)
    assert pm.index_of(clone) < pm.index_of(exec_) < pm.index_of(exit_), \
        "events of one process out of order (clone, exec, exit)"

    expected = {
        "pid": p.pid, "tid": p.pid, "ppid": os.getpid(),
        "uid": 0, "euid": 0, "gid": 0, "egid": 0, "auid": me["auid"],
        "cloned": False, "secureexec": "",
        "filename": "ls", "binary_path": ls, "args": f"-lah {tmp_path}",
        "binary_ima_hash": sha256_of(ls), **root_exec_caps(),
    }
    assert_fields(exec_["process"], expected, "ProcessExec.process")
    assert_fields(exit_["process"], expected, "ProcessExit.process")
    assert_fields(exit_, {"exit_code": 0, "signal": ""}, "ProcessExit")
    assert "args_truncated" not in exec_["process"]
    assert "binary_path_truncated" not in exec_["process"]

    # Before the exec the child was a copy of this Python process.
    assert_fields(clone["process"], {
        "pid": p.pid, "tid": p.pid, "ppid": os.getpid(), "cloned": True,
        "filename": me["filename"], "binary_path": me["binary_path"],
        "args": me["args"],
    }, "ProcessClone.process")

    # The parent is this pytest process, known from the /proc scan.
    for ev in (clone, exec_, exit_):
        assert_fields(ev["parent"], me, f"{ev['type']}.parent")
        assert_hash_if_present(ev["parent"], sha256_of(me["binary_path"]),
                               f"{ev['type']}.parent")
    assert exec_["parent"]["exec_id"] == exit_["parent"]["exec_id"]
    parent_start = parse_time(exec_["parent"]["start_time"])
    assert abs(parent_start - this_process_start()) <= 1 + CLOCK_SLACK, \
        f"parent start_time {exec_['parent']['start_time']}"

    # One process instance: one start time and one exec_id for exec and exit.
    assert exec_["process"]["exec_id"] == exit_["process"]["exec_id"]
    assert exec_["process"]["exec_id"] != exec_["parent"]["exec_id"]
    assert clone["process"]["start_time"] == exec_["process"]["start_time"] \
        == exit_["process"]["start_time"]
    assert_in_window(exec_["process"]["start_time"], t0, t1, "start_time")
    assert_in_window(exec_["timestamp"], t0, t1, "exec timestamp")
    assert_in_window(exit_["timestamp"], t0, t1, "exit timestamp")
    assert parse_time(exec_["process"]["start_time"]) <= parse_time(exec_["timestamp"]) \
        <= parse_time(exit_["timestamp"])


def test_clone_parent_child_runs_the_forkers_binary(pm):
    """clone(CLONE_PARENT): the child's parent is this test, but until it
    execs it runs clone_parent's binary, not the test's."""
    run = run_prog("clone_parent")
    child = tagged_ints(run.stdout)["child"]
    os.waitpid(child, 0)  # ours to reap: we are its parent
    clone = pm.wait_event("ProcessClone", child)
    pm.wait_event("ProcessExit", child)
    me = this_process()
    assert_fields(clone["process"], {
        "pid": child, "ppid": os.getpid(), "cloned": True,
        "filename": "clone_parent", "binary_path": prog("clone_parent"),
    }, "ProcessClone.process")
    assert_fields(clone["parent"], {"pid": os.getpid(),
                                    "binary_path": me["binary_path"]},
                  "ProcessClone.parent")


def test_fork_without_exec(pm):
    run = run_prog("fork_exit", "alpha", "beta")
    kids = tagged_ints(run.stdout)
    quitter, victim = kids["exit3"], kids["killed"]
    binary = os.path.realpath(prog("fork_exit"))

    trig_exit = pm.wait_event("ProcessExit", run.pid)
    trig_exec = assert_one(pm, "ProcessExec", run.pid)
    trig = trig_exec["process"]
    assert_fields(trig, {"filename": "fork_exit", "binary_path": binary,
                         "args": "alpha beta", "cloned": False},
                  "trigger ProcessExec.process")
    assert_fields(trig_exit, {"exit_code": 0, "signal": ""}, "trigger ProcessExit")

    exec_ids = {trig["exec_id"]}
    for child, status in ((quitter, {"exit_code": 3, "signal": ""}),
                          (victim, {"exit_code": 0, "signal": "SIGKILL"})):
        clone = assert_one(pm, "ProcessClone", child)
        exit_ = assert_one(pm, "ProcessExit", child)
        assert not pm.events_of("ProcessExec", child)
        check_event_shape(clone)
        check_event_shape(exit_)
        assert pm.index_of(clone) < pm.index_of(exit_)

        # A clone that never exec'd shows its parent's binary and arguments.
        expected = {
            "pid": child, "tid": child, "ppid": run.pid, "cloned": True,
            "uid": 0, "euid": 0, "gid": 0, "egid": 0, "auid": trig["auid"],
            "filename": "fork_exit", "binary_path": binary,
            "args": "alpha beta", "secureexec": "",
            "cap_effective": trig["cap_effective"],
            "cap_permitted": trig["cap_permitted"],
            "cap_inheritable": trig["cap_inheritable"],
        }
        for ev in (clone, exit_):
            where = f"{ev['type']}.process of child {child}"
            assert_fields(ev["process"], expected, where)
            assert_hash_if_present(ev["process"], sha256_of(binary), where)
            assert_fields(ev["parent"], {
                "pid": run.pid, "cloned": False, "filename": "fork_exit",
                "binary_path": binary, "exec_id": trig["exec_id"],
            }, f"{ev['type']}.parent of child {child}")
        assert_fields(exit_, status, f"ProcessExit of child {child}")
        assert clone["process"]["exec_id"] == exit_["process"]["exec_id"]
        assert clone["process"]["start_time"] == exit_["process"]["start_time"]
        exec_ids.add(clone["process"]["exec_id"])
    assert len(exec_ids) == 3, "exec_id not unique per process"


def test_memfd_exec(pm):
    run = run_prog("memfd_exec")
    exec_ = pm.wait_event("ProcessExec", run.pid,
                          where=lambda e: e["process"]["filename"].startswith("memfd:"))
    exit_ = pm.wait_event("ProcessExit", run.pid)
    execs = pm.events_of("ProcessExec", run.pid)
    assert [e["process"]["filename"] for e in execs] == \
        ["memfd_exec", "memfd:fileless-exec-test"]
    check_event_shape(exec_)
    check_event_shape(exit_)

    expected = {
        "pid": run.pid, "tid": run.pid, "ppid": os.getpid(), "cloned": False,
        "uid": 0, "euid": 0, "gid": 0, "egid": 0,
        "filename": "memfd:fileless-exec-test",
        "binary_path": "/memfd:fileless-exec-test (deleted)",
        "args": "fileless-exec-test", "secureexec": "FILELESS_EXEC",
        **root_exec_caps(),
    }
    for ev in (exec_, exit_):
        assert_fields(ev["process"], expected, f"{ev['type']}.process")
        # The memfd holds a copy of /bin/true; it may be gone before hashing.
        assert_hash_if_present(ev["process"], sha256_of("/bin/true"), ev["type"])
        assert ev["parent"]["pid"] == os.getpid()
    assert_fields(exit_, {"exit_code": 0, "signal": ""}, "ProcessExit")
    assert exec_["process"]["exec_id"] == exit_["process"]["exec_id"]


def release(p):
    """Send the line a waiting trigger expects, and reap it."""
    try:
        p.stdin.write(b"\n")
        p.stdin.close()
    except BrokenPipeError:
        pass
    p.wait(30)


@pytest.mark.parametrize("mode,status", [("exit-group", 0), ("leader-first", 7)])
def test_threads_exit_once(pm, mode, status):
    p = subprocess.Popen([prog("threads"), mode], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        # "marker PID" comes once 7 threads have ended (and, in leader-first
        # mode, the main thread too) and the marker child was reaped.
        line = p.stdout.readline().decode()
        assert line.startswith("marker "), f"threads printed {line!r}"
        marker = int(line.split()[1])
        marker_exit = pm.wait_event("ProcessExit", marker)
        early = [e for e in pm.events_of("ProcessExit", p.pid)
                 if pm.index_of(e) < pm.index_of(marker_exit)]
        assert not early, f"ProcessExit while the process still ran: {early}"
    finally:
        release(p)
    assert p.returncode == status

    exit_ = pm.wait_event("ProcessExit", p.pid)
    assert_one(pm, "ProcessExit", p.pid)
    check_event_shape(exit_)
    assert pm.index_of(exit_) > pm.index_of(marker_exit)
    assert_fields(exit_, {"exit_code": status, "signal": ""}, "ProcessExit")
    assert_fields(exit_["process"], {"pid": p.pid, "ppid": os.getpid(),
                                     "filename": "threads", "cloned": False},
                  "ProcessExit.process")

    # New processes only: this one (forked by pytest) and the marker; no threads.
    clones = pm.find(lambda e: e["type"] == "ProcessClone" and
                     p.pid in (e["process"]["pid"], e["process"]["ppid"]))
    assert sorted((e["process"]["pid"], e["process"]["tid"]) for e in clones) == \
        sorted([(p.pid, p.pid), (marker, marker)]), f"clone events: {clones}"
