#!/usr/bin/env python3
"""Does serving metrics cost anything? An exec storm with metrics off, and
with metrics on and /metrics scraped every second, interleaved.

    /usr/bin/python3 bench/metrics_cost.py            (root, after make progs)
    ROUNDS=6 N=3000 /usr/bin/python3 bench/metrics_cost.py
    make bench                                        (runs it after bench/suite)

Each round starts a fresh procmon (the built-in configuration, events to a
file in a fresh directory, plus `metrics.listen` for "on"), waits for its
ready line, runs build/progs/storm (N x fork + exec /bin/true + wait),
waits until procmon's CPU time stops moving (it has written everything),
then reads its utime+stime and stops it. The order alternates per round
(off,on / on,off). Reported: storm wall time per exec and procmon CPU per
exec, median and spread per mode. Exit 1 when a measurement failed.
"""

import os
import shutil
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROCMON = os.path.join(REPO, "build", "procmon")
STORM = os.path.join(REPO, "build", "progs", "storm")
ROUNDS = int(os.environ.get("ROUNDS", "6"))
N = int(os.environ.get("N", "3000"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(mode, d):
    port = free_port()
    printed = subprocess.run([PROCMON, "--print-config"], capture_output=True,
                             check=True, text=True).stdout
    if mode == "on":
        printed = printed.replace("metrics: {}", f'metrics: {{ listen: "127.0.0.1:{port}" }}')
    cfg = os.path.join(d, f"{mode}.yaml")
    with open(cfg, "w") as f:
        f.write(printed)
    os.chmod(cfg, 0o600)
    out = os.path.join(d, f"{mode}.jsonl")
    p = subprocess.Popen([PROCMON, "--config", cfg, "--output", out],
                         stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "procmon: ready:" in line:
            break
    else:
        sys.exit(f"procmon ({mode}) never got ready")
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    stop = threading.Event()
    scrapes = [0]

    def scrape():  # at once, then every second
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                r.read()
            scrapes[0] += 1
            if stop.wait(1.0):
                break
    if mode == "on":
        threading.Thread(target=scrape, daemon=True).start()
    cpu0 = cpu_s(p.pid)
    t0 = time.monotonic()
    subprocess.run([STORM, "metricsbench", str(N)], check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    # procmon has written the storm's last exec (other activity on the
    # host goes on, so its CPU time never stands still)
    last = f'"args":"metricsbench {N - 1}"'.encode()
    deadline = time.monotonic() + 60
    while True:
        with open(out, "rb") as f:
            f.seek(max(0, os.path.getsize(out) - (4 << 20)))
            if last in f.read():
                break
        if time.monotonic() > deadline:
            sys.exit(f"procmon ({mode}) did not write the storm's last exec")
        time.sleep(0.05)
    cpu = cpu_s(p.pid) - cpu0
    stop.set()
    p.terminate()
    if p.wait(30) != 0:
        sys.exit(f"procmon ({mode}) exited {p.returncode}")
    os.remove(out)
    return wall / N * 1e6, cpu / N * 1e6, scrapes[0]


def main():
    if os.geteuid() != 0:
        sys.exit("needs root")
    res = {"off": [], "on": []}
    d = tempfile.mkdtemp(prefix="procmon-metrics-bench-")
    os.chmod(d, 0o700)
    try:
        for r in range(ROUNDS):
            for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
                wall, cpu, scrapes = run(mode, d)
                res[mode].append((wall, cpu))
                print(f"round {r} {mode:3}: storm {wall:6.1f} us/exec, procmon CPU "
                      f"{cpu:5.1f} us/exec" + (f", {scrapes} scrapes" if mode == "on" else ""),
                      flush=True)
    finally:
        shutil.rmtree(d)
    med = {m: (statistics.median([w for w, _ in res[m]]),
               statistics.median([c for _, c in res[m]])) for m in res}
    print(f"metrics on vs off: storm {100 * (med['on'][0] / med['off'][0] - 1):+.1f}%, "
          f"procmon CPU {100 * (med['on'][1] / max(med['off'][1], 1e-9) - 1):+.1f}% "
          "(medians; compare with the spread below)")
    for mode in ("off", "on"):
        walls = [w for w, _ in res[mode]]
        cpus = [c for _, c in res[mode]]
        print(f"{mode:3}: storm median {statistics.median(walls):.1f} us/exec "
              f"(min {min(walls):.1f}, max {max(walls):.1f}); procmon CPU median "
              f"{statistics.median(cpus):.1f} us/exec (min {min(cpus):.1f}, max {max(cpus):.1f})")


if __name__ == "__main__":
    main()
