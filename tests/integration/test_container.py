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

from helpers import Procmon, is_event

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
