#!/usr/bin/python3
"""Which capabilities procmon needs: run build/procmon with only the
capabilities named (setpriv --bounding-set) and report what works.

    packaging/measure-caps.py bpf,perfmon,sys_admin,sys_ptrace,dac_read_search,syslog \
                              bpf,perfmon,sys_admin,sys_ptrace,dac_read_search

For each set, one JSON line: ready (probes loaded and attached),
scan_without_path (processes found by the /proc scan whose binary could
not be read, of scan_total; kernel threads and PID 1 left out),
hash_user_0700 (a binary only its owner can read, in a 0700 directory,
run by uid 65534, hashed), env_of_other_user (that process's environment
reported), and procmon's warnings. Needs root, `make` and `make progs`.
PM_BIN names another procmon binary. docs/service.md has the results.
"""
import json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from helpers import parse_line  # noqa: E402

BIN = os.environ.get("PM_BIN", str(REPO / "build" / "procmon"))
PROGS = str(REPO / "build" / "progs")


def probe(caps):
    bs = "-all" + "".join(",+" + c for c in caps)
    d = tempfile.mkdtemp(dir="/tmp")
    cfg = os.path.join(d, "c.yaml")
    with open(cfg, "w") as f:
        f.write("ima_hash: true\nexisting_process: {enabled: true}\nprocess_environment: {enabled: true}\n"
                "ptrace_access_check: {enabled: true}\n")
    out = os.path.join(d, "out.jsonl")
    p = subprocess.Popen(["setpriv", "--inh-caps=-all", "--bounding-set=" + bs, "--", BIN,
                          "--config", cfg, "--output", out], stderr=subprocess.PIPE, text=True)
    err = []
    for line in p.stderr:
        err.append(line.rstrip())
        if "ready" in line: break
    res = {"caps": ",".join(caps) or "none", "ready": any("ready" in l for l in err)}
    if res["ready"]:
        # user-owned binary in a 0700 directory, run as nobody
        u = tempfile.mkdtemp(prefix="h4u-", dir="/tmp")
        b = os.path.join(u, "secretbin")
        shutil.copy(PROGS + "/wait_line", b)
        os.chown(b, 65534, 65534); os.chmod(b, 0o700)
        r2 = os.path.join(d, "runas"); shutil.copy(PROGS + "/runas", r2); os.chmod(r2, 0o755)
        os.chown(u, 65534, 65534); os.chmod(u, 0o700)
        c = subprocess.Popen([r2, "65534", "65534", b], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={"FOO": "visible", "PATH": "/usr/bin"})
        c.stdout.readline()
        pid = c.pid
        deadline = time.time() + 5; ev = env = None
        while time.time() < deadline and not (ev and env):
            for l in open(out, "rb"):
                e = parse_line(l)
                pr = e.get("process") or {}
                if pr.get("pid") == pid and e["type"] == "ProcessExec" and pr.get("binary_path") == b: ev = e
                if pr.get("pid") == pid and e["type"] == "ProcessEnvironment": env = e
            time.sleep(0.2)
        c.stdin.write(b"\n"); c.stdin.close(); c.wait()
        shutil.rmtree(u)
        res["hash_user_0700"] = bool(ev and "binary_ima_hash" in ev["process"])
        res["env_of_other_user"] = bool(env and "visible" in json.dumps(env))
        evs = [parse_line(l) for l in open(out, "rb")]
        ex = [e["process"] for e in evs if e["type"] == "ExistingProcess"]
        user = [x for x in ex if x["pid"] not in (1, 2) and x["ppid"] != 2]
        res["scan_without_path"] = sum(1 for x in user if not x["binary_path"])
        res["scan_without_hash"] = sum(1 for x in user if "binary_ima_hash" not in x)
        res["scan_total"] = len(user)
        p.terminate()
    rest = p.stderr.read(); p.wait()
    err += rest.splitlines()
    res["rc"] = p.returncode
    res["warnings"] = [l[:110] for l in err if "warning" in l or "error" in l][:3]
    shutil.rmtree(d)
    print(json.dumps(res))

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        probe([c for c in arg.split(",") if c and c != "none"])
