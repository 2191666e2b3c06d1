"""The build itself: what `make` says on a machine that lacks its tools.

Each make runs in a fresh BUILD directory, so the real build/ is never
touched, with the environment of a top-level make (a `make test` parent's
MAKEFLAGS would hand it a jobserver it cannot reach).
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from helpers import REPO

HINT = "run 'make deps' (or scripts/install-deps.sh) as root"


def make_env(path=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    if path is not None:
        env["PATH"] = path
    return env


@pytest.fixture
def build_dir():
    d = tempfile.mkdtemp(prefix="procmon-build-")
    yield d
    shutil.rmtree(d)


@pytest.fixture
def path_without_bpftool():
    """A PATH of one directory: symlinks to every program on PATH but
    bpftool (first one wins, as for the shell)."""
    d = tempfile.mkdtemp(prefix="procmon-path-")
    for dir_ in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        if not os.path.isdir(dir_):
            continue
        for name in os.listdir(dir_):
            target = os.path.join(dir_, name)
            link = os.path.join(d, name)
            if name != "bpftool" and not os.path.lexists(link) \
                    and os.access(target, os.X_OK) and not os.path.isdir(target):
                os.symlink(target, link)
    yield d
    shutil.rmtree(d)


def test_make_without_bpftool_says_how_to_get_it(build_dir, path_without_bpftool):
    """Exactly one line on stderr naming bpftool and `make deps`, non-zero
    exit, and nothing built."""
    p = subprocess.run(["make", f"BUILD={build_dir}"], cwd=REPO,
                       env=make_env(path_without_bpftool), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0, p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert re.search(r"\bprocmon: bpftool not found: " + re.escape(HINT), lines[0]), lines[0]
    assert not os.path.exists(os.path.join(build_dir, "procmon"))


def test_make_with_everything_installed_passes_the_check(build_dir):
    """The check does not stop a machine that has what building needs
    (`make -n`: the check runs, nothing is built)."""
    p = subprocess.run(["make", "-n", f"BUILD={build_dir}"], cwd=REPO, env=make_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "not found" not in p.stderr, p.stderr
