"""secureexec: set-id binaries and file capabilities run as uid/gid 65534.

runas drops to 65534 (no groups, no capabilities left) and execs a copy of
/usr/bin/id that carries the setuid bit, the setgid bit or a file capability.
The copies live in `exec_dir`, on a mount where those bits count.
"""

import os
import shutil
import subprocess

import pytest

from helpers import (
    CAP_NET_RAW, NOBODY, assert_fields, check_event_shape, fmt_caps,
    proc_caps, run_prog, secureexec_flags, sha256_of,
)


def install_copy(dst, mode):
    shutil.copyfile("/usr/bin/id", dst)
    os.chown(dst, 0, 0)
    os.chmod(dst, mode)  # after chown, which clears set-id bits


def run_as_nobody(pm, binary):
    """Run binary through runas as 65534:65534; its exec and exit events."""
    run = run_prog("runas", str(NOBODY), str(NOBODY), str(binary))
    exec_ = pm.wait_event("ProcessExec", run.pid,
                          where=lambda e: e["process"]["binary_path"] == str(binary))
    exit_ = pm.wait_event("ProcessExit", run.pid)
    check_event_shape(exec_)
    check_event_shape(exit_)
    assert_fields(exit_, {"exit_code": 0, "signal": ""}, "ProcessExit")
    return run.stdout.decode(), exec_["process"]


def test_setuid_root(pm, exec_dir):
    binary = exec_dir / "id-setuid"
    install_copy(binary, 0o4755)
    out, proc = run_as_nobody(pm, binary)
    assert "euid=0(" in out, f"the setuid bit did not take effect: {out!r}"

    # Root by euid: the kernel grants pP' = pI | bounding set, pE' = pP'.
    caps = proc_caps()
    gained = fmt_caps(caps["CapInh"] | caps["CapBnd"])
    assert_fields(proc, {
        "uid": NOBODY, "euid": 0, "gid": NOBODY, "egid": NOBODY,
        "filename": "id-setuid", "binary_path": str(binary), "args": "",
        "cloned": False, "cap_permitted": gained, "cap_effective": gained,
        "cap_inheritable": fmt_caps(caps["CapInh"]),
        "binary_ima_hash": sha256_of(binary),
    }, "ProcessExec.process")
    flags = secureexec_flags(proc)
    assert "SETUID" in flags and not flags & {"SETGID", "FILELESS_EXEC"}, \
        f"secureexec {proc['secureexec']!r}"


def test_setuid_root_run_by_root_is_not_flagged(pm, exec_dir):
    """As in the seed's sudo example: a set-user-ID-root binary run by
    root changes no credential, so secureexec stays empty."""
    binary = exec_dir / "id-setuid-by-root"
    install_copy(binary, 0o4755)
    run = run_prog("runas", "0", "0", str(binary))
    exec_ = pm.wait_event("ProcessExec", run.pid,
                          where=lambda e: e["process"]["binary_path"] == str(binary))
    pm.wait_event("ProcessExit", run.pid)
    assert_fields(exec_["process"], {"uid": 0, "euid": 0, "secureexec": ""},
                  "ProcessExec.process")


def test_setgid_root(pm, exec_dir):
    binary = exec_dir / "id-setgid"
    install_copy(binary, 0o2755)
    out, proc = run_as_nobody(pm, binary)
    assert "egid=0(" in out, f"the setgid bit did not take effect: {out!r}"

    assert_fields(proc, {
        "uid": NOBODY, "euid": NOBODY, "gid": NOBODY, "egid": 0,
        "filename": "id-setgid", "binary_path": str(binary),
        "cap_permitted": "", "cap_effective": "",
    }, "ProcessExec.process")
    flags = secureexec_flags(proc)
    assert "SETGID" in flags and not flags & {"SETUID", "FILELESS_EXEC"}, \
        f"secureexec {proc['secureexec']!r}"


def setcap_binary():
    path = shutil.which("setcap", path="/usr/sbin:/sbin:" + os.environ.get("PATH", ""))
    if path is None:
        pytest.fail("setcap not found: install libcap2-bin (make deps)")
    return path


def test_file_caps(pm, exec_dir):
    if not proc_caps()["CapBnd"] >> CAP_NET_RAW & 1:
        pytest.skip("CAP_NET_RAW is not in this process's bounding set")
    binary = exec_dir / "id-netraw"
    install_copy(binary, 0o755)
    subprocess.run([setcap_binary(), "cap_net_raw+ep", str(binary)], check=True)
    _, proc = run_as_nobody(pm, binary)

    # pP' = (pI & fI) | (fP & bounding) = CAP_NET_RAW; the +e bit makes pE' = pP'.
    assert_fields(proc, {
        "uid": NOBODY, "euid": NOBODY, "gid": NOBODY, "egid": NOBODY,
        "filename": "id-netraw", "binary_path": str(binary),
        "cap_permitted": "CAP_NET_RAW", "cap_effective": "CAP_NET_RAW",
        "cap_inheritable": fmt_caps(proc_caps()["CapInh"]),
    }, "ProcessExec.process")
    flags = secureexec_flags(proc)
    assert "FILE_CAPS" in flags and not flags & {"SETUID", "SETGID", "FILELESS_EXEC"}, \
        f"secureexec {proc['secureexec']!r}"
