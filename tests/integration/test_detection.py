"""Detection gaps of issue 14 found by attacking the sensor: argv[0],
fileless scripts and libraries, namespace changes. Each test performs the
technique for real and asserts the exact evidence, in both formats.
"""

import os
import subprocess

from helpers import prog, run_prog
from test_limacharlie import lc  # noqa: F401  (the --format limacharlie procmon)


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
