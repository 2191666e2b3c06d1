"""Files procmon opens as root (contract 9): the output is never a link,
a file or a directory another user planted or can write, and a
configuration another user can write is refused.

Root plants the links and files here, standing in for the other user: the
point is what procmon does with them, not how they got there. Each refusal
must happen before any event is written, name the file, and exit 1
(output) or 2 (configuration)."""
import os
import signal
import stat

import pytest

from helpers import NOBODY, Procmon, run_procmon_to_exit

RUNTIME_ERROR = 1
BAD_CONFIG = 2


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def victim(tmp_path):
    """A root file that must never receive events."""
    v = tmp_path / "victim"
    v.write_text("precious\n")
    v.chmod(0o600)
    return v


def refused(args, status, path):
    code, stderr = run_procmon_to_exit(args)
    assert code == status, f"exit status {code}; stderr:\n{stderr}"
    assert str(path) in stderr, f"stderr does not name {path}:\n{stderr}"
    return stderr


# --------------------------------------------------------------------------
# The output file


def test_symlink_at_the_output_path_is_not_followed(tmp_path, victim):
    out = tmp_path / "events.jsonl"
    out.symlink_to(victim)
    stderr = refused(["--output", out], RUNTIME_ERROR, out)
    assert "symbolic link" in stderr
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("how", ["mode-0666", "owned-by-nobody", "group-writable"])
def test_output_file_another_user_can_write_is_refused(tmp_path, how):
    out = tmp_path / "events.jsonl"
    out.write_text("")
    if how == "mode-0666":
        out.chmod(0o666)
    elif how == "group-writable":
        out.chmod(0o620)
    else:
        os.chown(out, NOBODY, NOBODY)
        out.chmod(0o600)
    refused(["--output", out], RUNTIME_ERROR, out)
    assert out.read_text() == ""


def test_hard_link_to_another_file_is_refused(tmp_path, victim):
    """A second name for a root file (a hard link made in a shared
    directory where protected_hardlinks is off) is owned by root too."""
    out = tmp_path / "events.jsonl"
    os.link(victim, out)
    refused(["--output", out], RUNTIME_ERROR, out)
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("how", ["owned-by-nobody", "world-writable", "above-it"])
def test_output_directory_another_user_can_write_is_refused(tmp_path, how):
    top = tmp_path / "top"
    d = top / "logs"
    d.mkdir(parents=True)
    if how == "owned-by-nobody":
        os.chown(d, NOBODY, NOBODY)
    elif how == "world-writable":
        d.chmod(0o777)
    else:  # a directory higher up: it can rename logs/ away
        os.chown(top, NOBODY, NOBODY)
    bad = top if how == "above-it" else d
    stderr = refused(["--output", d / "events.jsonl"], RUNTIME_ERROR, bad)
    assert not (d / "events.jsonl").exists(), stderr


def test_symlinked_directory_made_by_another_user_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    os.lchown(link, NOBODY, NOBODY)
    refused(["--output", link / "events.jsonl"], RUNTIME_ERROR, link)
    assert not (real / "events.jsonl").exists()


def run_briefly(*args):
    """procmon up to ready, then SIGTERM; its exit status."""
    pm = Procmon(*args)
    pm.wait_ready()
    return pm.stop(), pm.stderr_tail()


def test_sticky_root_directory_is_accepted_and_files_are_private(tmp_path):
    """/tmp-like directories are fine (nobody can rename root's file in
    them); an existing root file readable by others is made private."""
    d = tmp_path / "shared"
    d.mkdir()
    d.chmod(0o1777)
    out = d / "events.jsonl"
    out.write_text("")
    out.chmod(0o644)
    status, stderr = run_briefly("--output", out)
    assert status == 0, stderr
    assert mode(out) == 0o600
    assert out.read_text().endswith("\n")  # ExistingProcess events at least


def test_unsafe_file_at_reopen_keeps_the_old_one(tmp_path, victim):
    """SIGHUP after someone replaced the output with a link: refused with
    a message, and events keep going to the file procmon has open."""
    out = tmp_path / "events.jsonl"
    pm = Procmon("--output", out)
    try:
        pm.wait_ready()
        rotated = tmp_path / "events.jsonl.1"
        out.rename(rotated)
        out.symlink_to(victim)
        pm.proc.send_signal(signal.SIGHUP)
        pm.wait_stderr(lambda l: "not reopening the output" in l and str(out) in l)
    finally:
        status = pm.stop()
    assert status == 0, pm.stderr_tail()
    assert victim.read_text() == "precious\n"
    assert rotated.stat().st_size > 0


# --------------------------------------------------------------------------
# The configuration file


GOOD_CONFIG = "prctl: { enabled: true }\n"


@pytest.mark.parametrize("how", ["mode-0666", "owned-by-nobody", "dir-owned-by-nobody",
                                 "dir-world-writable", "symlink-by-nobody"])
def test_configuration_another_user_can_write_is_refused(tmp_path, how):
    d = tmp_path / "etc"
    d.mkdir()
    config = d / "procmon.yaml"
    config.write_text(GOOD_CONFIG)
    config.chmod(0o600)
    named, bad = config, config
    if how == "mode-0666":
        config.chmod(0o666)
    elif how == "owned-by-nobody":
        os.chown(config, NOBODY, NOBODY)
    elif how == "dir-owned-by-nobody":
        os.chown(d, NOBODY, NOBODY)
        bad = d
    elif how == "dir-world-writable":
        d.chmod(0o777)
        bad = d
    else:
        named = bad = tmp_path / "link.yaml"
        named.symlink_to(config)
        os.lchown(named, NOBODY, NOBODY)
    stderr = refused(["--config", named], BAD_CONFIG, bad)
    assert "refusing the configuration" in stderr
    assert "chown root" in stderr  # the fix is named


def test_root_configuration_through_a_root_symlink_loads(tmp_path):
    config = tmp_path / "procmon.yaml"
    config.write_text(GOOD_CONFIG)
    config.chmod(0o644)  # readable by others is fine: it holds no secret
    link = tmp_path / "link.yaml"
    link.symlink_to(config)
    status, stderr = run_briefly("--config", link)
    assert status == 0, stderr
