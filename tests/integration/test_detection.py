"""Detection gaps of issue 14 found by attacking the sensor: argv[0],
fileless scripts and libraries, namespace changes. Each test performs the
technique for real and asserts the exact evidence, in both formats.
"""

import hashlib
import os
import shutil
import subprocess

import pytest

from helpers import Procmon, prog, run_prog
from test_limacharlie import lc  # noqa: F401  (the --format limacharlie procmon)
from test_privilege import process_events, results


def exec_of(view, pid):
    return view.wait_event("ProcessExec", pid)


# --------------------------------------------------------------------------
# argv[0]


def spoofed_run(exec_dir):
    """`exec -a sshd ./implant -D`: a program whose argv[0] lies."""
    implant = exec_dir / "implant"
    implant.write_bytes(open(prog("fork_exit"), "rb").read())
    implant.chmod(0o755)
    p = subprocess.Popen(["sshd", "-D"], executable=str(implant))
    p.wait(timeout=30)
    return p.pid, implant


def test_argv0_native(pm, exec_dir):
    """argv0 is the name the program was given; args stays argv[1..]."""
    pid, implant = spoofed_run(exec_dir)
    p = exec_of(pm, pid)["process"]
    assert (p["binary_path"], p["filename"], p["argv0"], p["args"]) == (
        str(implant), "implant", "sshd", "-D")


def test_argv0_limacharlie(lc, exec_dir):  # noqa: F811
    """COMMAND_LINE is the real command line: argv joined, argv[0] as given."""
    since = lc.mark()
    pid, implant = spoofed_run(exec_dir)
    ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "NEW_PROCESS"
                     and e["event"]["PROCESS_ID"] == pid, since=since, what="NEW_PROCESS")
    assert (ev["event"]["FILE_PATH"], ev["event"]["COMMAND_LINE"]) == (str(implant), "sshd -D")


# --------------------------------------------------------------------------
# A script run from a memfd


def run_memfd_script(how, exec_dir):
    """memfd_script: '#!/bin/sh' in a memfd, executed; the script waits
    for a line, so it lives until the caller lets it go."""
    script = f"#!/bin/sh\nread line\n# {how} {os.urandom(8).hex()}\n".encode()
    p = subprocess.Popen([prog("memfd_script"), how, script.decode()],
                         stdin=subprocess.PIPE)
    return p, "sha256:" + hashlib.sha256(script).hexdigest()


@pytest.mark.parametrize("how,fd_path", [("fexecve", "/dev/fd/3"), ("proc", "/proc/self/fd/3")])
def test_memfd_script_native(pm, exec_dir, how, fd_path):
    """The interpreter runs, but the exec is fileless: FILELESS_EXEC, the
    memfd named, the script's own bytes hashed."""
    p, digest = run_memfd_script(how, exec_dir)
    try:
        ev = pm.wait_event("ProcessExec", p.pid,
                           where=lambda e: e["process"]["binary_path"] == "/usr/bin/dash")
    finally:
        p.communicate(b"go\n", timeout=30)
    proc = ev["process"]
    assert (proc["secureexec"], proc["script_path"], proc["script_ima_hash"]) == (
        "FILELESS_EXEC", "/memfd:payload (deleted)", digest)
    assert (proc["argv0"], proc["args"]) == ("/bin/sh", fd_path)


def test_memfd_script_limacharlie(lc, exec_dir):  # noqa: F811
    since = lc.mark()
    p, digest = run_memfd_script("fexecve", exec_dir)
    try:
        ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "NEW_PROCESS"
                         and e["event"]["PROCESS_ID"] == p.pid
                         and e["event"]["FILE_PATH"] == "/usr/bin/dash",
                         since=since, what="NEW_PROCESS of the script")
    finally:
        p.communicate(b"go\n", timeout=30)
    e = ev["event"]
    assert (e["SCRIPT_PATH"], e["SCRIPT_HASH"], e["COMMAND_LINE"]) == (
        "/memfd:payload (deleted)", digest[len("sha256:"):], "/bin/sh /dev/fd/3")


# --------------------------------------------------------------------------
# A library loaded from a memfd

LIB = "/lib/x86_64-linux-gnu/libutil.so.1"


def payload_library(exec_dir):
    src = exec_dir / "libpayload.so"
    src.write_bytes(open(LIB, "rb").read() + os.urandom(16))  # never seen before
    return src, "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()


def test_memfd_library_is_hashed(pm, exec_dir):
    """dlopen of a memfd copy of a library: its ModuleLoad has the hash of
    those bytes (read through the mapping, not by path), and a
    CodeIdentity follows."""
    src, digest = payload_library(exec_dir)
    p = subprocess.Popen([prog("memfd_dlopen"), str(src)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"loaded\n"
        ev = pm.wait_event("ModuleLoad", p.pid, where=lambda e: e["module_load"]["file_path"]
                           == "/memfd:libpayload.so (deleted)")
        ident = pm.wait_for(lambda e: e.get("type") == "CodeIdentity"
                            and e["process"]["pid"] == p.pid
                            and e["code_identity"]["hash"] == digest, what="its CodeIdentity")
    finally:
        p.communicate(b"go\n", timeout=30)
    assert ev["module_load"]["module_name"] == "memfd:libpayload.so (deleted)"
    assert ident["code_identity"]["file_path"] == "/memfd:libpayload.so (deleted)"


def test_memfd_library_limacharlie(lc, exec_dir):  # noqa: F811
    since = lc.mark()
    src, digest = payload_library(exec_dir)
    p = subprocess.Popen([prog("memfd_dlopen"), str(src)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"loaded\n"
        ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "CODE_IDENTITY"
                         and e["event"]["PROCESS_ID"] == p.pid
                         and e["event"]["HASH"] == digest[len("sha256:"):],
                         since=since, what="CODE_IDENTITY of the memfd library")
    finally:
        p.communicate(b"go\n", timeout=30)
    assert ev["event"]["FILE_PATH"] == "/memfd:libpayload.so (deleted)"


# --------------------------------------------------------------------------
# Namespace changes

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWNET = 0x20000, 0x4000000, 0x40000000


class NsTarget:
    """wait_line run by unshare(1) in new net and uts namespaces: a
    container-like process whose namespaces others enter."""

    def __init__(self, directory):
        path = directory / "ns-target"
        shutil.copy(prog("wait_line"), path)
        self.proc = subprocess.Popen(["unshare", "--net", "--uts", str(path), "1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().startswith(b"ready ")
        self.pid = self.proc.pid  # unshare execs the program: one pid
        self.net_inode = os.stat(f"/proc/{self.pid}/ns/net").st_ino

    def close(self):
        self.proc.communicate(b"\n", timeout=10)


@pytest.fixture
def ns_target(exec_dir):
    t = NsTarget(exec_dir)
    yield t
    t.close()


def ns_steps(ns_target):
    t = ns_target.pid
    return [f"unshare:{CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET:x}",
            f"setns-file:/proc/{t}/ns/net", f"setns-pidfd:{t},{CLONE_NEWUTS | CLONE_NEWNET:x}",
            f"unshare:{0x10000000:x}"]  # a user namespace alone: CreateUserNs, not Unshare


def run_ns_change(ns_target):
    steps = ns_steps(ns_target)
    run = run_prog("ns_change", *steps)
    got = results(run)
    assert all(got[s] == 0 for s in steps), got
    return run


def test_namespace_changes_native(pm, ns_target):
    """unshare of mount+uts+net, setns by namespace file, setns by pidfd:
    one event each, with the namespaces; setns names the namespace's inode
    or, for a pidfd, the process whose namespaces were entered."""
    run = run_ns_change(ns_target)
    evs = [e["process_event"] for e in process_events(pm, run.pid)
           if e["process_event"]["type"] in ("SetNs", "Unshare")]
    assert [(e["type"], e["namespaces"], e.get("namespace_inode"),
             e.get("target") and e["target"]["pid"]) for e in evs] == [
        ("Unshare", "CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET", None, None),
        ("SetNs", "CLONE_NEWNET", ns_target.net_inode, None),
        ("SetNs", "CLONE_NEWUTS | CLONE_NEWNET", None, ns_target.pid)]
    assert evs[2]["target"]["filename"] == "ns-target"


def test_namespace_changes_limacharlie(lc, ns_target):  # noqa: F811
    since = lc.mark()
    run = run_ns_change(ns_target)
    lc.wait_for(lambda e: e["routing"]["event_type"] == "TERMINATE_PROCESS"
                and e["event"]["PROCESS_ID"] == run.pid, since=since, what="exit")
    evs = lc.find(lambda e: e["routing"]["event_type"] in ("SETNS", "UNSHARE")
                  and e["event"]["PROCESS_ID"] == run.pid, since)
    assert [(e["routing"]["event_type"], e["event"]["NAMESPACES"],
             e["event"].get("NAMESPACE_INODE"),
             e["event"].get("TARGET", {}).get("PROCESS_ID")) for e in evs] == [
        ("UNSHARE", "CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET", None, None),
        ("SETNS", "CLONE_NEWNET", ns_target.net_inode, None),
        ("SETNS", "CLONE_NEWUTS | CLONE_NEWNET", None, ns_target.pid)]
    assert evs[2]["routing"]["target"] == evs[2]["event"]["TARGET"]["THIS_ATOM"]


def test_namespace_changes_filtered(exec_dir):
    """The namespaces block off: no SetNs or Unshare; process_filter
    narrows them like the other hooks."""
    t = NsTarget(exec_dir)
    config = exec_dir / "ns.yaml"
    for text, want in (("namespaces: { enabled: false }\n", 0),
                       ("namespaces: { enabled: true }\n"
                        "process_filter: { binary: { name: [ns_change] }, deny_list: true }\n", 0),
                       ("namespaces: { enabled: true }\n"
                        "process_filter: { binary: { name: [ns_change] } }\n", 3)):
        config.write_text(text)
        config.chmod(0o600)
        procmon = Procmon("--config", config).wait_ready()
        try:
            run = run_ns_change(t)
            procmon.wait_for(lambda e: e.get("type") == "ProcessExit"
                             and e["process"]["pid"] == run.pid, what="exit")
            got = procmon.find(lambda e: e.get("type") == "ProcessEvent"
                               and e["process"]["pid"] == run.pid
                               and e["process_event"]["type"] in ("SetNs", "Unshare"))
        finally:
            assert procmon.stop() == 0
        assert len(got) == want, (text, got)
    t.close()


# --------------------------------------------------------------------------
# A binary that deletes itself


def unique_copy(exec_dir, name):
    """A copy never hashed before, 32 MiB long: reading it takes longer
    than the implant takes to unlink itself, so a hasher that only knew
    the exec's ctime could never finish it."""
    path = exec_dir / name
    path.write_bytes(open(prog("self_delete"), "rb").read() + bytes(32 << 20) + os.urandom(16))
    path.chmod(0o755)
    return path, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_self_deleting_binary_is_hashed(pm, exec_dir):
    """The implant unlinks its own file at start; the unlink changed the
    inode's ctime, which the kernel reports at the call, and the hash of
    the executed content (read through /proc/PID/exe) is in its
    ProcessExec, with a CodeIdentity."""
    path, digest = unique_copy(exec_dir, "implant-rm")
    p = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"deleted\n"
        assert not path.exists()
        ev = pm.wait_event("ProcessExec", p.pid)
        ident = pm.wait_for(lambda e: e.get("type") == "CodeIdentity"
                            and e["process"]["pid"] == p.pid, what="its CodeIdentity")
    finally:
        p.communicate(b"go\n", timeout=30)
    assert ev["process"]["binary_path"] == str(path)
    assert ev["process"]["binary_ima_hash"] == digest
    assert (ident["code_identity"]["file_path"], ident["code_identity"]["hash"]) == (
        str(path), digest)


def test_self_deleting_binary_limacharlie(lc, exec_dir):  # noqa: F811
    since = lc.mark()
    path, digest = unique_copy(exec_dir, "implant-rm-lc")
    p = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"deleted\n"
        ev = lc.wait_for(lambda e: e["routing"]["event_type"] == "NEW_PROCESS"
                         and e["event"]["PROCESS_ID"] == p.pid, since=since, what="NEW_PROCESS")
    finally:
        p.communicate(b"go\n", timeout=30)
    assert ev["event"]["HASH"] == digest[len("sha256:"):]
