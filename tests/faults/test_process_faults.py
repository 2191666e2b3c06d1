"""procmon itself is killed, restarted, or runs twice.

kill -9 gives procmon no chance to detach: the kernel must free its BPF
programs, links and maps when its descriptors close, and a new procmon
must start cleanly. Two instances each have their own programs and ring
buffer and both see every exec.
"""

import json
import os
import re
import signal
import subprocess

from faultkit import is_exec_with_args, marker, wait_file

BPFTOOL = "/usr/sbin/bpftool"


def bpf_ids(pid):
    """{'prog': ids, 'map': ids, 'link': ids} held by pid's descriptors
    (from /proc/PID/fdinfo: Debian's bpftool does not list owning pids)."""
    ids = {"prog": set(), "map": set(), "link": set()}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                text = f.read()
        except OSError:
            continue
        for kind in ids:
            m = re.search(rf"^{kind}_id:\s*(\d+)", text, re.M)
            if m:
                ids[kind].add(int(m.group(1)))
    return ids


def loaded():
    """{'prog': {id: name}, 'map': {id: name}, 'link': ids} on the host."""
    out = {}
    for kind in ("prog", "map", "link"):
        r = subprocess.run([BPFTOOL, "-j", kind, "show"], capture_output=True, check=True)
        items = json.loads(r.stdout or b"[]")
        out[kind] = {i["id"]: i.get("name", "") for i in items}
    return out


def pm_named(objs, ids):
    """How many of these ids are loaded programs and maps with procmon's
    pm_ prefix. (Counting every pm_ object on the host would be simpler,
    but another procmon, such as a benchmark's, may start or stop
    meanwhile.)"""
    return sum(1 for kind in ("prog", "map") for i, n in objs[kind].items()
               if n.startswith("pm_") and i in ids[kind])


def assert_released(ids, what):
    def gone():
        now = loaded()
        return not any(ids[k] & set(now[k]) for k in ids)
    wait_file(gone, f"the BPF objects of {what} to be freed")


def test_kill_9_leaves_nothing_and_restarts(procmons):
    first = procmons()
    first.wait_ready()
    ids = bpf_ids(first.proc.pid)
    assert ids["prog"] and ids["map"] and ids["link"], \
        f"no BPF descriptors found in procmon: {ids}"
    assert pm_named(loaded(), ids) >= 3  # at least exec, clone, exit
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    assert_released(ids, "the killed procmon")
    assert pm_named(loaded(), ids) == 0

    second = procmons()
    second.wait_ready()
    tag = marker()
    second.wait_for(lambda e: is_exec_with_args(e, tag), what="marker exec after restart")
    ids = bpf_ids(second.proc.pid)
    assert second.stop() == 0, second.stderr_tail()
    assert not second.bad_lines, second.bad_lines[:3]
    assert_released(ids, "the stopped procmon")


def test_two_instances(procmons):
    a, b = procmons(), procmons()
    a.wait_ready()
    b.wait_ready()
    tag = marker()
    for p in (a, b):
        p.wait_for(lambda e: is_exec_with_args(e, tag), what="marker exec")
    ea = a.find(lambda e: is_exec_with_args(e, tag))[0]
    eb = b.find(lambda e: is_exec_with_args(e, tag))[0]
    assert ea["process"]["pid"] == eb["process"]["pid"]
    assert ea["process"]["exec_id"] == eb["process"]["exec_id"]
    for p in (a, b):
        assert p.stop() == 0, p.stderr_tail()
        assert not p.bad_lines, p.bad_lines[:3]
