"""container_id: a process whose cgroup v2 path names a container.

Runtimes put a container in a cgroup named after its 64-hex id
(docker-<id>.scope and friends). The test makes such a cgroup itself, moves
a shell into it and lets it exec; procmon must report the id on that exec
and on the exit, and on nothing outside the cgroup. procmon finds the
cgroup v2 mount when it starts, so this test runs its own instance after
making sure one exists (this CI machine's kind mounts only cgroup v1).
"""

import os
import subprocess
import uuid

import pytest

from helpers import Procmon, is_event, prog

CONTAINER_ID = uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex digits


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.startswith("cgroup2 "):
                return pre.split()[4]
    return None


@pytest.fixture
def container_cgroup(tmp_path):
    """A docker-style cgroup directory; removed (and unmounted) afterwards."""
    mount = cgroup2_mount()
    mounted_here = None
    if mount is None:
        mounted_here = tmp_path / "cgroup2"
        mounted_here.mkdir()
        subprocess.run(["mount", "-t", "cgroup2", "none", str(mounted_here)], check=True)
        mount = str(mounted_here)
    cg = os.path.join(mount, f"docker-{CONTAINER_ID}.scope")
    os.mkdir(cg)
    try:
        yield cg
    finally:
        os.rmdir(cg)  # its only process has exited
        if mounted_here:
            subprocess.run(["umount", str(mounted_here)], check=True)


def test_container_id_from_cgroup(container_cgroup):
    procmon = Procmon()
    try:
        procmon.wait_ready()
        tag = f"in-container-{uuid.uuid4().hex}"
        # $$ joins the cgroup, then execs: the exec happens inside it
        sh = subprocess.run(
            ["/bin/sh", "-c",
             f'echo $$ > {container_cgroup}/cgroup.procs && exec /bin/true {tag}'],
            check=True)
        assert sh.returncode == 0
        outside = subprocess.run(["/bin/true", "outside"], check=True)
        assert outside.returncode == 0

        exec_ = procmon.wait_for(
            lambda e: e["type"] == "ProcessExec" and e["process"]["args"] == tag,
            what="exec inside the container cgroup")
        pid = exec_["process"]["pid"]
        exit_ = procmon.wait_for(lambda e: is_event(e, "ProcessExit", pid),
                                 what="its exit")
        outside_exec = procmon.wait_for(
            lambda e: e["type"] == "ProcessExec" and e["process"]["args"] == "outside",
            what="exec outside")
    finally:
        status = procmon.stop()
    assert status == 0, procmon.stderr_tail()

    assert exec_["process"]["container_id"] == CONTAINER_ID
    assert exit_["process"]["container_id"] == CONTAINER_ID
    # the parent (this test, outside any container) has none
    assert "container_id" not in exec_["parent"]
    assert "container_id" not in outside_exec["process"]


V1_ID = uuid.uuid4().hex + uuid.uuid4().hex
V1_CONTROLLERS = ("pids", "memory", "cpu", "devices", "freezer", "blkio")


def v1_controller_hierarchies():
    """Mount points of the cgroup v1 hierarchies with a controller procmon
    may read (cpuset needs set-up before it takes a task), one per
    hierarchy."""
    found, seen = [], set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = post.split()
            if len(fields) < 3 or fields[0] != "cgroup":
                continue
            if set(fields[2].split(",")) & set(V1_CONTROLLERS):
                mnt = pre.split()[4]
                dev = os.stat(mnt).st_dev
                if dev not in seen:
                    seen.add(dev)
                    found.append(mnt)
    return found


class V1Container:
    """.../<id> in every v1 controller hierarchy, as a runtime's cgroupfs
    driver makes /docker/<id> on a v1 or hybrid host; a process joins all
    of them. The default (v2) hierarchy does not name the container there."""

    def __init__(self, mounts):
        parent = f"procmon-test-{uuid.uuid4().hex[:8]}"
        self.dirs = [os.path.join(m, parent, V1_ID) for m in mounts]
        for d in self.dirs:
            os.makedirs(d)

    def join_command(self):
        return " && ".join(f"echo $$ > {d}/cgroup.procs" for d in self.dirs)

    def remove(self):
        for d in self.dirs:
            os.rmdir(d)  # its processes have exited
            os.rmdir(os.path.dirname(d))


@pytest.fixture
def v1_container_cgroup():
    mounts = v1_controller_hierarchies()
    if not mounts:
        pytest.skip("no cgroup v1 controller hierarchy is mounted: a cgroup v2 host")
    c = V1Container(mounts)
    try:
        yield c
    finally:
        c.remove()


def start_in_cgroup(cg, *args):
    """wait_line (args after its exit status), moved into cg before it execs;
    alive until its stdin is closed."""
    p = subprocess.Popen(
        ["/bin/sh", "-c", f'{cg.join_command()} && exec "$@"', "sh",
         str(prog("wait_line")), "0", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline().startswith(b"ready ")
    return p


def test_container_id_from_a_cgroup_v1_hierarchy(v1_container_cgroup):
    """The container's cgroups are in the v1 hierarchies: its id comes from
    /proc/PID/cgroup for a process running before procmon started
    (ExistingProcess), and from the v1 controller cgroup the BPF side reads
    for one that execs while procmon runs."""
    old = start_in_cgroup(v1_container_cgroup, "old")
    new = None
    procmon = Procmon()
    try:
        procmon.wait_ready()
        existing = procmon.wait_for(lambda e: is_event(e, "ExistingProcess", old.pid),
                                    what="ExistingProcess of the old process")
        tag = f"v1-container-{uuid.uuid4().hex}"
        new = start_in_cgroup(v1_container_cgroup, tag)
        exec_ = procmon.wait_for(
            lambda e: e["type"] == "ProcessExec" and e["process"]["args"] == f"0 {tag}",
            what="exec inside the v1 container cgroup")
        new.communicate(b"\n", timeout=10)
        exit_ = procmon.wait_for(lambda e: is_event(e, "ProcessExit", new.pid),
                                 what="its exit")
        # gone before procmon reads its exec: /proc/PID/cgroup would be
        # too late, the cgroup the BPF side read at the exec is not
        brief_tag = f"v1-brief-{uuid.uuid4().hex}"
        subprocess.run(["/bin/sh", "-c", f"{v1_container_cgroup.join_command()} && "
                        f"exec /bin/true {brief_tag}"], check=True)
        brief = procmon.wait_for(
            lambda e: e["type"] == "ProcessExec" and e["process"]["args"] == brief_tag,
            what="the brief exec inside the v1 container cgroups")
        outside = subprocess.run(["/bin/true", "outside-v1"], check=True)
        assert outside.returncode == 0
        outside_exec = procmon.wait_for(
            lambda e: e["type"] == "ProcessExec" and e["process"]["args"] == "outside-v1",
            what="exec outside")
    finally:
        old.communicate(b"\n", timeout=10)
        if new and new.returncode is None:
            new.communicate(b"\n", timeout=10)
        status = procmon.stop()
    assert status == 0, procmon.stderr_tail()

    assert existing["process"]["container_id"] == V1_ID
    assert exec_["process"]["pid"] == new.pid
    assert exec_["process"]["container_id"] == V1_ID
    assert exit_["process"]["container_id"] == V1_ID
    assert brief["process"].get("container_id") == V1_ID
    assert "container_id" not in exec_["parent"]
    assert "container_id" not in outside_exec["process"]
