"""LimaCharlie's events and --format limacharlie.

ExistingProcess and SensitiveProcessAccess in the native format, and the
{"routing","event"} shape of every event procmon has in LimaCharlie's:
upper-case fields, event ids, and process atoms that agree across events.
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from helpers import (
    NOBODY, Procmon, assert_fields, check_process_shape, prog, run_prog, sha256_of,
    tagged_ints,
)
from test_privilege import Target, results

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ATOM_RE = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def lc():
    """A procmon in --format limacharlie, default configuration."""
    procmon = Procmon("--format", "limacharlie").wait_ready()
    yield procmon
    assert procmon.stop() == 0, procmon.stderr_tail()
    assert not procmon.bad_lines, procmon.bad_lines[:3]


def lc_events(procmon, since, event_type, pid, key="PROCESS_ID"):
    return procmon.find(lambda e: e["routing"]["event_type"] == event_type
                        and e["event"].get(key) == pid, since)


def wait_lc(procmon, since, event_type, pid, key="PROCESS_ID"):
    return procmon.wait_for(lambda e: e["routing"]["event_type"] == event_type
                            and e["event"].get(key) == pid, since=since,
                            what=f"{event_type} of {pid}")


def check_routing(ev, event_type):
    r = ev["routing"]
    assert r["event_type"] == event_type
    assert UUID4_RE.match(r["event_id"]), r["event_id"]
    assert ATOM_RE.match(r["this"]), r["this"]
    assert r["hostname"] == os.uname().nodename
    assert type(r["event_time"]) is int and r["event_time"] == ev["event"]["TIMESTAMP"]
    for key in ("parent", "target"):
        if key in r:
            assert ATOM_RE.match(r[key]), r


# --------------------------------------------------------------------------
# ExistingProcess


def test_existing_process_before_ready(exec_dir, tmp_path):
    """A process started before procmon: one ExistingProcess with the same
    fields an exec gives, written before the ready line."""
    target = Target(exec_dir, "existing")
    out = tmp_path / "events.json"
    procmon = Procmon("--output", out)
    try:
        procmon.wait_ready()
        # read at once: the ready line comes after the events are written
        lines = out.read_bytes().splitlines()
    finally:
        target.close()
        assert procmon.stop() == 0
    evs = [json.loads(l) for l in lines]
    mine = [e for e in evs if e["type"] == "ExistingProcess"
            and e["process"]["pid"] == target.pid]
    assert len(mine) == 1, f"{len(mine)} ExistingProcess for {target.pid}"
    ev = mine[0]
    check_process_shape(ev["process"])
    target.check_child(ev["process"])
    if "binary_ima_hash" in ev["process"]:
        assert ev["process"]["binary_ima_hash"] == sha256_of(target.path)
    assert ev["parent"]["pid"] == os.getpid()
    # parents before children: this test process is older than the target
    pids = [e["process"]["pid"] for e in evs if e["type"] == "ExistingProcess"]
    assert pids.index(os.getpid()) < pids.index(target.pid)
    assert 1 in pids


def test_existing_process_limacharlie(exec_dir, lc):
    """The same in LimaCharlie's shape, for the processes lc found."""
    ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "EXISTING_PROCESS"
                     and e["event"]["PROCESS_ID"] == os.getpid(), what="EXISTING_PROCESS")
    check_routing(ev, "EXISTING_PROCESS")
    assert len(lc_events(lc, 0, "EXISTING_PROCESS", os.getpid())) == 1
    e = ev["event"]
    exe = os.readlink("/proc/self/exe")
    assert e["FILE_PATH"] == exe
    # the real command line: argv, argv[0] included, as /proc has it
    argv = open("/proc/self/cmdline", "rb").read().rstrip(b"\0").split(b"\0")
    assert e["COMMAND_LINE"] == " ".join(a.decode() for a in argv)
    assert (e["PARENT_PROCESS_ID"], e["USER_ID"], e["USER_NAME"]) == (os.getppid(), 0, "root")
    assert e["PARENT"]["PROCESS_ID"] == os.getppid()


# --------------------------------------------------------------------------
# --format limacharlie


def test_new_process_and_atoms(lc, tmp_path):
    """ls: PROCESS_CLONE, NEW_PROCESS, TERMINATE_PROCESS with one atom;
    the process's atom is the parent atom of its children's events."""
    since = lc.mark()
    shell = subprocess.run(["/bin/sh", "-c", "/usr/bin/ls -lah / >/dev/null; echo $$"],
                           capture_output=True, check=True)
    sh_pid = int(shell.stdout)
    ls_exec = lc.wait_for(lambda e: e["routing"]["event_type"] == "NEW_PROCESS"
                          and e["event"]["PARENT_PROCESS_ID"] == sh_pid
                          and e["event"]["FILE_PATH"] == "/usr/bin/ls", since=since,
                          what="NEW_PROCESS of ls")
    pid = ls_exec["event"]["PROCESS_ID"]
    check_routing(ls_exec, "NEW_PROCESS")
    assert_fields(ls_exec["event"], {
        "FILE_PATH": "/usr/bin/ls", "COMMAND_LINE": "/usr/bin/ls -lah /",
        "PARENT_PROCESS_ID": sh_pid, "USER_ID": 0, "USER_NAME": "root"}, "NEW_PROCESS")
    assert ls_exec["event"].get("HASH", sha256_of("/usr/bin/ls")[7:]) == \
        sha256_of("/usr/bin/ls")[7:]
    assert ls_exec["event"]["PARENT"]["PROCESS_ID"] == sh_pid
    assert ls_exec["event"]["PARENT"]["FILE_PATH"] == "/usr/bin/dash"
    exit_ev = wait_lc(lc, since, "TERMINATE_PROCESS", pid)
    check_routing(exit_ev, "TERMINATE_PROCESS")
    assert_fields(exit_ev["event"], {"PARENT_PROCESS_ID": sh_pid, "EXIT_CODE": 0,
                                     "SIGNAL": ""}, "TERMINATE_PROCESS")
    clone, = lc_events(lc, since, "PROCESS_CLONE", pid)
    sh_exec, = lc_events(lc, since, "NEW_PROCESS", sh_pid)
    atoms = {e["routing"]["this"] for e in (clone, ls_exec, exit_ev)}
    assert len(atoms) == 1, "one process, one atom"
    for e in (clone, ls_exec, exit_ev):
        assert e["routing"]["parent"] == sh_exec["routing"]["this"]
    ids = [e["routing"]["event_id"] for e in lc.find(lambda e: True, since)]
    assert len(ids) == len(set(ids)), "event ids repeat"


def test_privilege_events_limacharlie(lc):
    since = lc.mark()
    run = run_prog("priv_calls", "setresuid:1,2,3", "prctl-name:lc-name")
    setuid = wait_lc(lc, since, "SETUID", run.pid)
    check_routing(setuid, "SETUID")
    assert_fields(setuid["event"], {"UID": 1, "EUID": 2, "FSUID": 2,
                                    "FLAGS": "LSM_SETID_RES"}, "SETUID")
    prctl = wait_lc(lc, since, "PRCTL", run.pid)
    assert prctl["event"]["CMD"] == {"PrSetName": {"name": "lc-name"}}
    new = lc_events(lc, since, "NEW_PROCESS", run.pid)[0]
    assert setuid["routing"]["this"] == prctl["routing"]["this"] == new["routing"]["this"]


def test_remote_process_handle(lc, exec_dir):
    target = Target(exec_dir, "rph-target")
    try:
        since = lc.mark()
        run = run_prog("priv_calls", f"ptrace-attach:{target.pid}")
        ev = wait_lc(lc, since, "REMOTE_PROCESS_HANDLE", target.pid)
    finally:
        target.close()
    check_routing(ev, "REMOTE_PROCESS_HANDLE")
    e = ev["event"]
    assert_fields(e, {"ACCESS_MODE": "PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS",
                      "ACCESS_FLAGS": 0x12, "PARENT_PROCESS_ID": run.pid}, "event")
    assert (e["SOURCE"]["PROCESS_ID"], e["SOURCE"]["FILE_PATH"]) == (run.pid, prog("priv_calls"))
    assert_fields(e["TARGET"], {"PROCESS_ID": target.pid, "FILE_PATH": str(target.path),
                                "COMMAND_LINE": f"{target.path} 7 arg-x"}, "TARGET")
    # routing: this is the source, target the target, as their own events say
    target_new = lc_events(lc, 0, "NEW_PROCESS", target.pid)[-1]
    assert ev["routing"]["target"] == e["TARGET"]["THIS_ATOM"] == target_new["routing"]["this"]
    assert ev["routing"]["this"] == e["SOURCE"]["THIS_ATOM"]


# --------------------------------------------------------------------------
# SensitiveProcessAccess


def test_sensitive_process_access(pm, exec_dir):
    """Attaching to a program named sshd (a wait_line copy) is a sensitive
    access; to one named otherwise, and a denied attempt, are not."""
    sshd, other = Target(exec_dir, "sshd"), Target(exec_dir, "not-sshd")
    try:
        denied = run_prog("runas", str(NOBODY), str(NOBODY), prog("priv_calls"),
                          f"ptrace-attach:{sshd.pid}")
        run = run_prog("priv_calls", f"ptrace-attach:{other.pid}", f"ptrace-attach:{sshd.pid}")
        pm.wait_event("ProcessExit", run.pid)  # all of run's events are out
        evs = pm.events_of("SensitiveProcessAccess", run.pid)
        assert len(evs) == 1, evs
        ev = evs[0]
        assert ev["process"]["pid"] == run.pid and ev["parent"]["pid"] == os.getpid()
        pe = ev["process_event"]
        assert (pe["type"], pe["access"]) == ("PtraceAccessCheck", "PTRACE_ATTACH")
        sshd.check_child(pe["child"])
        assert pm.find(lambda e: e.get("type") == "SensitiveProcessAccess"
                       and e["process"]["pid"] == denied.pid) == []
    finally:
        sshd.close()
        other.close()


def test_sensitive_process_access_limacharlie(lc, exec_dir):
    sshd = Target(exec_dir, "sshd")
    try:
        since = lc.mark()
        run = run_prog("priv_calls", f"ptrace-attach:{sshd.pid}")
        ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "SENSITIVE_PROCESS_ACCESS"
                         and any(x["event"].get("PROCESS_ID") == sshd.pid
                                 for x in e["event"]["EVENTS"]), since=since,
                         what="SENSITIVE_PROCESS_ACCESS")
    finally:
        sshd.close()
    check_routing(ev, "SENSITIVE_PROCESS_ACCESS")
    target, access = ev["event"]["EVENTS"]
    assert target["routing"]["this"] == ev["routing"]["target"]
    assert target["event"]["FILE_PATH"] == str(sshd.path)
    assert access["routing"]["event_type"] == "REMOTE_PROCESS_HANDLE"
    assert access["event"]["SOURCE"]["PROCESS_ID"] == run.pid
    assert access["event"]["TARGET"]["PROCESS_ID"] == sshd.pid


# --------------------------------------------------------------------------
# ProcessEnvironment


ENV_CONFIG = "process_environment: { enabled: true }\n"


def run_with_env(env):
    p = subprocess.Popen(["/bin/true"], env=env)
    assert p.wait(timeout=60) == 0
    return p.pid


@pytest.mark.parametrize("fmt", ["bombini", "limacharlie"])
def test_process_environment(tmp_path, fmt):
    """The environment of a new exec, values of secret-looking names
    redacted with the default globs, long ones cut and flagged."""
    cfg = tmp_path / "env.yaml"
    cfg.write_text(ENV_CONFIG)
    procmon = Procmon("--config", cfg, "--format", fmt).wait_ready()
    try:
        env = {"LANG": "C.UTF-8", "AWS_SECRET_ACCESS_KEY": "hunter2", "GH_TOKEN": "t0k",
               "PATH": "/usr/bin:/bin", "ODD": "a\nb\"\\", "EMPTY": ""}
        pid = run_with_env(env)
        big = run_with_env({"BIG": "x" * 40000, "AFTER": "y"})
        if fmt == "bombini":
            def env_of(p):
                ev = procmon.wait_for(lambda e: e["type"] == "ProcessEnvironment"
                                      and e["process"]["pid"] == p, what="environment")
                assert ev["process"]["filename"] == "true"
                return ev["environment"], ev.get("environment_truncated", False)
        else:
            def env_of(p):
                ev = procmon.wait_for(lambda e: e["routing"]["event_type"] == "PROCESS_ENVIRONMENT"
                                      and e["event"]["PROCESS_ID"] == p, what="environment")
                check_routing(ev, "PROCESS_ENVIRONMENT")
                return (ev["event"]["ENVIRONMENT_VARIABLES"],
                        ev["event"].get("ENVIRONMENT_TRUNCATED", False))
        got, cut = env_of(pid)
        assert got == ["LANG=C.UTF-8", "AWS_SECRET_ACCESS_KEY=<redacted>",
                       "GH_TOKEN=<redacted>", "PATH=/usr/bin:/bin", "ODD=a\nb\"\\", "EMPTY="]
        assert not cut
        got, cut = env_of(big)
        assert cut and got[0].startswith("BIG=xxxx") and len(got[0]) < 40004
    finally:
        assert procmon.stop() == 0
    assert not procmon.bad_lines
    assert "hunter2" not in "".join(procmon.stderr_lines)


# --------------------------------------------------------------------------
# CodeIdentity, OngoingIdentity


def fresh_binary(exec_dir, name):
    path = exec_dir / name
    shutil.copy("/bin/true", path)
    os.chmod(path, 0o755)
    return path


def _run_pid(path):
    p = subprocess.Popen([str(path)])
    assert p.wait(timeout=60) == 0
    return p.pid


def test_code_identity_once_per_pair(pm, exec_dir):
    """A new binary: one CodeIdentity on its first run, none on its second."""
    path = fresh_binary(exec_dir, "ident-bombini")
    first, second = _run_pid(path), _run_pid(path)
    pm.wait_event("ProcessExit", second)
    evs = pm.find(lambda e: e.get("type") == "CodeIdentity"
                  and e["code_identity"]["file_path"] == str(path))
    assert len(evs) == 1, evs
    ev = evs[0]
    assert ev["process"]["pid"] == first and ev["parent"]["pid"] == os.getpid()
    st = os.stat(path)
    assert_fields(ev["code_identity"], {
        "hash": sha256_of(path), "size": st.st_size, "owner_uid": 0, "owner_gid": 0,
        "mode": "0755"}, "code_identity")
    assert pm.find(lambda e: e.get("type") == "OngoingIdentity") == []  # off by default


def test_identities_limacharlie_and_ongoing(exec_dir, tmp_path):
    """Both identity events in LimaCharlie's shape; OngoingIdentity for
    every run when it is on."""
    cfg = tmp_path / "identity.yaml"
    cfg.write_text("ima_hash: true\ncode_identity: { enabled: true }\n"
                   "ongoing_identity: { enabled: true }\n")
    procmon = Procmon("--config", cfg, "--format", "limacharlie").wait_ready()
    try:
        path = fresh_binary(exec_dir, "ident-lc")
        first, second = _run_pid(path), _run_pid(path)
        wait_lc(procmon, 0, "TERMINATE_PROCESS", second)
        code = [e for e in procmon.find(lambda e: e["routing"]["event_type"] == "CODE_IDENTITY")
                if e["event"]["FILE_PATH"] == str(path)]
        ongoing = [e for e in procmon.find(lambda e: e["routing"]["event_type"] == "ONGOING_IDENTITY")
                   if e["event"]["FILE_PATH"] == str(path)]
    finally:
        assert procmon.stop() == 0
    assert [e["event"]["PROCESS_ID"] for e in code] == [first]
    assert [e["event"]["PROCESS_ID"] for e in ongoing] == [first, second]
    check_routing(code[0], "CODE_IDENTITY")
    assert_fields(code[0]["event"], {"HASH": sha256_of(path)[7:], "FILE_SIZE": os.stat(path).st_size,
                                     "FILE_MODE": "0755"}, "CODE_IDENTITY")


# --------------------------------------------------------------------------
# NewRemoteThread


def test_new_remote_thread(pm):
    """A thread created in a traced process: the tracer is the process,
    the traced one the target, with the new thread's id."""
    run = run_prog("traced_thread")
    ids = tagged_ints(run.stdout)
    tracee, thread = ids["tracee"], ids["thread"]
    pm.wait_event("ProcessExit", run.pid)
    evs = pm.events_of("NewRemoteThread", run.pid)
    assert len(evs) == 1, evs
    ev = evs[0]
    assert ev["parent"]["pid"] == os.getpid()
    rt = ev["remote_thread"]
    assert rt["thread_id"] == thread
    assert_fields(rt["target"], {"pid": tracee, "ppid": run.pid, "filename": "traced_thread",
                                 "cloned": True}, "target")
    # a thread started without a tracer is not one
    threads = run_prog("threads", "exit-group", input=b"\n")
    pm.wait_event("ProcessExit", threads.pid)
    assert pm.find(lambda e: e.get("type") == "NewRemoteThread"
                   and e["remote_thread"]["target"]["pid"] == threads.pid) == []


def test_new_remote_thread_limacharlie(lc):
    since = lc.mark()
    run = run_prog("traced_thread")
    ids = tagged_ints(run.stdout)
    ev = wait_lc(lc, since, "NEW_REMOTE_THREAD", ids["tracee"])
    check_routing(ev, "NEW_REMOTE_THREAD")
    assert_fields(ev["event"], {"THREAD_ID": ids["thread"], "PARENT_PROCESS_ID": run.pid},
                  "NEW_REMOTE_THREAD")
    assert ev["event"]["SOURCE"]["PROCESS_ID"] == run.pid
    assert ev["routing"]["target"] == ev["event"]["TARGET"]["THIS_ATOM"]


# --------------------------------------------------------------------------
# ThreadInjection


def test_thread_injection(pm, exec_dir):
    """Attach, POKETEXT, SETREGS: one ThreadInjection listing those steps,
    in order; attaching and only reading is none."""
    target = Target(exec_dir, "victim")
    try:
        looker = run_prog("priv_calls", f"ptrace-attach:{target.pid}", f"vm-read:{target.pid}")
        run = run_prog("inject", str(target.pid))
        ip = tagged_ints(run.stdout)["ip"]
        pm.wait_event("ProcessExit", run.pid)
    finally:
        target.close()
    evs = pm.events_of("ThreadInjection", run.pid)
    assert len(evs) == 1, evs
    ti = evs[0]["thread_injection"]
    target.check_child(ti["target"])
    assert [(s["type"], s.get("address")) for s in ti["events"]] == [
        ("PTRACE_ATTACH", None), ("PTRACE_POKETEXT", ip), ("PTRACE_SETREGS", None)]
    times = [s["timestamp"] for s in ti["events"]]
    assert times == sorted(times)
    assert pm.events_of("ThreadInjection", looker.pid) == []


def test_thread_injection_limacharlie(lc, exec_dir):
    target = Target(exec_dir, "victim-lc")
    try:
        since = lc.mark()
        run = run_prog("inject", str(target.pid))
        ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "THREAD_INJECTION"
                         and e["routing"].get("target") is not None
                         and e["event"]["EVENTS"][0]["event"].get("PROCESS_ID") == target.pid,
                         since=since, what="THREAD_INJECTION")
    finally:
        target.close()
    check_routing(ev, "THREAD_INJECTION")
    steps = ev["event"]["EVENTS"]
    assert [s["routing"]["event_type"] for s in steps] == [
        "REMOTE_PROCESS_HANDLE", "PTRACE_POKETEXT", "PTRACE_SETREGS"]
    assert steps[1]["event"]["ADDRESS"] == tagged_ints(run.stdout)["ip"]
    for s in steps:
        assert s["event"]["SOURCE"]["PROCESS_ID"] == run.pid
        assert s["routing"]["target"] == ev["routing"]["target"]


# --------------------------------------------------------------------------
# NewNamedPipe, OpenNamedPipe


def test_named_pipes(pm, exec_dir):
    """FIFOs made relative to the cwd, to a dirfd, by absolute path and by
    mknod; then opened: each with its absolute path."""
    sub = exec_dir / "sub dir"
    sub.mkdir()
    steps = ["mkfifo:rel-fifo", f"mkfifoat:{sub},at-fifo", f"mknod-fifo:{exec_dir}/abs-fifo",
             f"open-fifo:{sub}/at-fifo", "open-fifo:rel-fifo"]
    p = subprocess.Popen([prog("priv_calls"), *steps], cwd=exec_dir, stdout=subprocess.PIPE)
    got = results(type("Run", (), {"stdout": p.communicate(timeout=60)[0]}))
    assert got["mkfifo:rel-fifo"] == 0 and got["open-fifo:rel-fifo"] >= 0, got
    pm.wait_event("ProcessExit", p.pid)
    new = [e["file_path"] for e in pm.events_of("NewNamedPipe", p.pid)]
    assert new == [f"{exec_dir}/rel-fifo", f"{sub}/at-fifo", f"{exec_dir}/abs-fifo"]
    opened = [e["file_path"] for e in pm.events_of("OpenNamedPipe", p.pid)]
    assert opened == [f"{sub}/at-fifo", f"{exec_dir}/rel-fifo"]
    ev = pm.events_of("NewNamedPipe", p.pid)[0]
    assert ev["process"]["filename"] == "priv_calls" and ev["parent"]["pid"] == os.getpid()
    # an anonymous pipe reopened through /proc is no named pipe
    q = subprocess.Popen(["/bin/sh", "-c", "exec 3</proc/self/fd/0"], stdin=subprocess.PIPE)
    q.communicate(b"", timeout=60)
    pm.wait_event("ProcessExit", q.pid)
    assert pm.events_of("OpenNamedPipe", q.pid) == []


def test_named_pipes_limacharlie(lc, exec_dir):
    since = lc.mark()
    run = run_prog("priv_calls", f"mkfifo:{exec_dir}/lc-fifo", f"open-fifo:{exec_dir}/lc-fifo")
    new = wait_lc(lc, since, "NEW_NAMED_PIPE", run.pid)
    opened = wait_lc(lc, since, "OPEN_NAMED_PIPE", run.pid)
    for ev in (new, opened):
        check_routing(ev, ev["routing"]["event_type"])
        assert ev["event"]["FILE_PATH"] == f"{exec_dir}/lc-fifo"


# --------------------------------------------------------------------------
# ModuleLoad


def libz_path():
    """The real path of libz.so.1 as the dynamic loader finds it."""
    import ctypes
    ctypes.CDLL("libz.so.1")
    with open("/proc/self/maps") as f:
        for line in f:
            if "/libz.so" in line:
                return os.path.realpath(line.split()[-1])
    raise AssertionError("libz.so.1 not mapped")


def maps_base(pid, path):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if line.rstrip("\n").endswith(" " + path):
                return int(line.split("-")[0], 16)
    raise AssertionError(f"{path} not in /proc/{pid}/maps")


def modules_of(pm, pid, path):
    pm.wait_event("ProcessExit", pid)
    return [e["module_load"] for e in pm.events_of("ModuleLoad", pid)
            if e["module_load"]["file_path"] == path]


def test_module_load_dlopen(pm):
    """dlopen of a shared object: one ModuleLoad, its base as
    /proc/PID/maps shows it."""
    lib = libz_path()
    run = run_prog("priv_calls", "dlopen:libz.so.1")
    base = results(run)["dlopen:libz.so.1"]
    assert base > 0, run.stdout
    mods = modules_of(pm, run.pid, lib)
    assert len(mods) == 1, mods
    assert_fields(mods[0], {"base_address": base, "module_name": os.path.basename(lib)},
                  "module_load")
    assert mods[0]["memory_size"] > 0


def test_module_load_ld_preload(pm, exec_dir):
    """An LD_PRELOAD library, in a process that is still running."""
    lib = libz_path()
    target = exec_dir / "preloaded"
    shutil.copy(prog("wait_line"), target)
    p = subprocess.Popen([str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env={"LD_PRELOAD": lib, "PATH": "/usr/bin:/bin"})
    try:
        assert p.stdout.readline().startswith(b"ready ")
        base = maps_base(p.pid, lib)
    finally:
        p.communicate(b"\n", timeout=10)
    mods = modules_of(pm, p.pid, lib)
    assert len(mods) == 1, mods
    assert mods[0]["base_address"] == base


def test_module_load_limacharlie(lc):
    lib = libz_path()
    since = lc.mark()
    run = run_prog("priv_calls", "dlopen:libz.so.1")
    ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "MODULE_LOAD"
                     and e["event"]["PROCESS_ID"] == run.pid
                     and e["event"]["FILE_PATH"] == lib, since=since, what="MODULE_LOAD")
    check_routing(ev, "MODULE_LOAD")
    assert_fields(ev["event"], {"MODULE_NAME": os.path.basename(lib),
                                "BASE_ADDRESS": results(run)["dlopen:libz.so.1"]}, "MODULE_LOAD")


def test_module_load_elf_interpreter(pm):
    """The ELF interpreter, which the kernel maps at exec: one ModuleLoad
    at AT_BASE, before the libraries it loads."""
    run = run_prog("priv_calls", "at-base")
    base = results(run)["at-base"]
    pm.wait_event("ProcessExit", run.pid)
    mods = [e["module_load"] for e in pm.events_of("ModuleLoad", run.pid)]
    assert mods and mods[0]["base_address"] == base, mods
    assert mods[0]["module_name"].startswith("ld-linux"), mods[0]
    assert os.path.realpath(mods[0]["file_path"]) == mods[0]["file_path"]
    assert [m["module_name"] for m in mods].count(mods[0]["module_name"]) == 1


def test_module_load_mprotect(pm, exec_dir):
    """A file mapped readable, then made executable with mprotect."""
    lib = exec_dir / "late-exec.so"
    shutil.copy(libz_path(), lib)
    run = run_prog("priv_calls", f"map-then-exec:{lib}")
    addr = results(run)[f"map-then-exec:{lib}"]
    assert addr > 0, run.stdout
    mods = modules_of(pm, run.pid, str(lib))
    assert len(mods) == 1, mods
    assert_fields(mods[0], {"base_address": addr, "memory_size": 4096,
                            "module_name": "late-exec.so"}, "module_load")


def test_code_identity_of_a_module(pm, exec_dir):
    """A shared object loaded for the first time gives one CodeIdentity,
    with its own hash; loading it again gives none."""
    lib = exec_dir / "libfresh.so"
    shutil.copy(libz_path(), lib)
    first = run_prog("priv_calls", f"dlopen:{lib}")
    second = run_prog("priv_calls", f"dlopen:{lib}")
    pm.wait_event("ProcessExit", second.pid)
    evs = pm.find(lambda e: e.get("type") == "CodeIdentity"
                  and e["code_identity"]["file_path"] == str(lib))
    assert len(evs) == 1, evs
    assert evs[0]["process"]["pid"] == first.pid
    assert_fields(evs[0]["code_identity"], {"hash": sha256_of(lib),
                                            "size": os.stat(lib).st_size}, "code_identity")
