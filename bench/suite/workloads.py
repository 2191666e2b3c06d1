"""bench/suite: the workloads, timed with every monitor mode (the package's docstring, __init__.py, has the whole story)."""

from .common import *  # noqa: F401,F403
from .monitors import *  # noqa: F401,F403


# ---------------------------------------------------------------- workloads

def storms(k, n, argv_extra=None):
    """k exec storms in parallel; their pids, counts and the slower time."""
    argv = [STORM] + (argv_extra or [str(n)])
    procs = [spawn(argv, stdout=subprocess.PIPE, text=True) for _ in range(k)]
    res = {"pids": [], "happened": {}, "times": []}
    failed = []
    for p in procs:
        out = p.communicate()[0]
        rc = reap(p)
        fields = out.split()
        if rc != 0 or not fields:
            failed.append(f"exec_storm {p.pid} exit {rc}")
            continue
        if argv_extra and argv_extra[0] == "-t":
            count, secs = int(fields[0]), float(fields[1])
        else:
            count, secs = n, float(fields[0])
        res["pids"].append(p.pid)
        res["happened"][p.pid] = count
        res["times"].append(secs)
    if failed:
        raise BenchError("; ".join(failed))
    res["seconds"] = max(res["times"])
    return res


def loop(*args):
    p = spawn([LOOP, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    rc = reap(p)
    if rc != 0:
        raise BenchError(f"loop {args[0]}: exit {rc}: {err.strip()}")
    return {"seconds": float(out.split()[0])}


class Build:
    """make -j of procmon's sources, each run into a fresh build directory."""

    def __init__(self):
        self.k = 0
        self.job = None

    def setup(self):
        shutil.rmtree(SRC_DIR, ignore_errors=True)
        os.makedirs(SRC_DIR)
        paths = ["src", "include", "config", "scripts", "tools", "Makefile", "VERSION"]
        git = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", "HEAD", *paths],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if git.returncode == 0:
            subprocess.run(["tar", "-x", "-C", SRC_DIR], input=git.stdout, check=True)
            self.source = "git HEAD " + run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
        else:
            for p in paths:
                s = os.path.join(ROOT, p)
                (shutil.copytree if os.path.isdir(s) else shutil.copy2)(s, os.path.join(SRC_DIR, p))
            self.source = "working tree copy"
        self.vmlinux = os.path.join(ROOT, "build", "vmlinux.h")
        if not os.path.isfile(self.vmlinux):
            self.vmlinux = os.path.join(DIR, "vmlinux.h")
            with open(self.vmlinux, "w") as f:
                subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                                "format", "c"], stdout=f, check=True)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}

    def prepare(self):
        self.k += 1
        self.job = os.path.join(DIR, f"job-{self.k}")
        shutil.rmtree(self.job, ignore_errors=True)
        os.makedirs(self.job)
        shutil.copy(self.vmlinux, os.path.join(self.job, "vmlinux.h"))  # not timed: no bpftool

    def run(self):
        errp = os.path.join(DIR, "build.err")
        with open(errp, "w") as err:
            t0 = time.monotonic()
            p = spawn(["make", "-s", f"-j{BUILD_JOBS}", f"BUILD={self.job}", "all"], cwd=SRC_DIR,
                      stdout=subprocess.DEVNULL, stderr=err, env=self.env)
            rc = reap(p)
            secs = time.monotonic() - t0
        if rc != 0 or not os.path.isfile(os.path.join(self.job, "procmon")):
            with open(errp, errors="replace") as f:
                tail = " | ".join(f.read().strip().splitlines()[-3:])
            raise BenchError(f"build failed (exit {rc}): {tail}")
        return {"seconds": secs}

    def finish(self):
        if self.job:
            shutil.rmtree(self.job, ignore_errors=True)


BUILD = Build()
WORKLOAD_DEFS = {
    "exec": dict(title=lambda: f"exec storm: 1 loop x {N} (fork + execve /bin/true bench exec-storm + wait)",
                 rounds=lambda: ROUNDS, run=lambda: storms(1, N), storm=True,
                 warm=lambda: storms(1, max(N // 10, 1))),
    "exec2": dict(title=lambda: f"exec storm: 2 loops in parallel x {N} each (time of the slower)",
                  rounds=lambda: ROUNDS, run=lambda: storms(2, N), storm=True,
                  warm=lambda: storms(2, max(N // 10, 1))),
    "getppid": dict(title=lambda: f"getppid: {GETPPID_N} raw getppid() (watched by no monitor)",
                    rounds=lambda: ROUNDS, run=lambda: loop("getppid", GETPPID_N),
                    warm=lambda: loop("getppid", max(GETPPID_N // 10, 1))),
    "openmap": dict(title=lambda: f"open/mmap: {OPENMAP_N} x (open+mmap+munmap+close {OPENMAP_PATH}, "
                                  f"dlopen+dlclose {OPENMAP_LIB})",
                    rounds=lambda: ROUNDS,
                    run=lambda: loop("openmap", OPENMAP_N, OPENMAP_PATH, OPENMAP_LIB),
                    warm=lambda: loop("openmap", max(OPENMAP_N // 10, 1), OPENMAP_PATH, OPENMAP_LIB)),
    "build": dict(title=lambda: f"build: make -j{BUILD_JOBS} of procmon ({BUILD.source}) into a fresh directory",
                  rounds=lambda: BUILD_ROUNDS, run=lambda: BUILD.run(), prepare=lambda: BUILD.prepare(),
                  finish=lambda: BUILD.finish(), warm=lambda: (BUILD.prepare(), BUILD.run(), BUILD.finish())),
}


def timed_run(wl, mode):
    """One run of workload wl with monitor mode; a dict of what was measured."""
    d = WORKLOAD_DEFS[wl]
    rec = {"mode": mode}
    fm = foreign_monitors()
    if fm:
        rec["foreign_monitors"] = fm
        log(f"  note: monitor(s) not started by this script running: {'; '.join(fm)}")
    mon = None
    try:
        if mode != "off":
            mon = MONITOR_CLASSES[mode]()
            mon.start()
            if isinstance(mon, Procmon):
                rec["ready_s"] = round(mon.ready_s, 4)
        # A monitor runs for days: by the time a job runs, it has seen its
        # programs before (procmon has hashed cc1, libLLVM ...). So every
        # mode, off included, first sees one untimed pass of the workload;
        # that pass's time is kept as the "first pass after start" figure.
        t0 = time.monotonic()
        d["warm"]()
        rec["first_pass_s"] = round(time.monotonic() - t0, 4)
        if mon:
            mon.wait_idle()
            cpu0 = mon.cpu_ns()
        if "prepare" in d:
            d["prepare"]()
        w = d["run"]()
        rec["seconds"] = w["seconds"]
        if "times" in w:
            rec["storm_times"] = w["times"]
            rec["happened"] = sum(w["happened"].values())
        if mon:
            rec["drain_s"] = round(mon.drain(), 3)
            rec["cpu_ns"] = mon.cpu_ns() - cpu0
            rec["vm_hwm_kb"], rec["vm_rss_kb"] = mon.mem()
            rec.update(mon.stop())
            if d.get("storm"):
                got, bad = mon.delivered(w["pids"])
                rec["delivered"] = sum(got.values())
                rec["delivered_per_storm"] = [[p, got[p], w["happened"][p]] for p in w["pids"]]
                if bad:
                    rec["bad_lines"] = bad
            mon.cleanup_files()
    except BenchError as e:
        problem(f"{wl}/{mode}: {e}")
        rec["error"] = str(e)
        if mon:
            mon.kill()
    finally:
        if mon and mon.notes:
            rec["notes"] = mon.notes
        if "finish" in d:
            d["finish"]()
    return rec


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(wl, rounds):
    d = WORKLOAD_DEFS[wl]
    summ = {}
    for mode in MODES:
        runs = [r["runs"].get(mode, {}) for r in rounds]
        ratios = [r["ratios"].get(mode) for r in rounds]
        ratios = [x for x in ratios if x is not None]
        s = {"median_s": med(r.get("seconds") for r in runs),
             "ratio_median": med(ratios), "ratio_min": min(ratios) if ratios else None,
             "ratio_max": max(ratios) if ratios else None, "ratios": ratios,
             "failed_runs": sum(1 for r in runs if "error" in r or "seconds" not in r),
             "first_pass_ratio_median": med(r["first_pass_ratios"].get(mode) for r in rounds)}
        if mode != "off":
            s["cpu_ms_median"] = med(r.get("cpu_ns", None) and r["cpu_ns"] / 1e6 for r in runs)
            s["lost_total"] = sum(r.get("lost") or 0 for r in runs)
            s["vm_hwm_kb_max"] = max((r.get("vm_hwm_kb") or 0 for r in runs), default=None)
            s["drain_s_median"] = med(r.get("drain_s") for r in runs)
            if d.get("storm"):
                per = [r["cpu_ns"] / 1e3 / r["happened"] for r in runs
                       if r.get("cpu_ns") is not None and r.get("happened")]
                s["cpu_us_per_exec"] = per
                s["cpu_us_per_exec_median"] = med(per)
                s["delivered_total"] = sum(r.get("delivered") or 0 for r in runs)
                s["happened_total"] = sum(r.get("happened") or 0 for r in runs)
        summ[mode] = s
    return summ


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def print_workload(wl, res):
    d = WORKLOAD_DEFS[wl]
    storm = d.get("storm")
    mons = MODES[1:]
    hdr = f"{'round':<6}{'off_s':>9}"
    for m in mons:
        hdr += f"  {m + '_s':>12}{'ratio':>7}" + (f"{'events':>7}" if storm else "")
    log(hdr)
    for r in res["rounds"]:
        line = f"{r['round']:<6}{fmt(r['runs']['off'].get('seconds'), '9.3f'):>9}"
        for m in mons:
            x = r["runs"].get(m, {})
            line += f"  {fmt(x.get('seconds'), '12.3f'):>12}{fmt(r['ratios'].get(m), '7.3f'):>7}"
            if storm:
                line += f"{fmt(x.get('delivered'), '7d'):>7}"
        log(line)
    log()
    h = f"{'monitor':<10}{'median_s':>9}{'ratio':>7}  {'[min-max]':<13}{'cpu_ms':>8}"
    if storm:
        h += f"{'us/exec':>8}  {'delivered/happened':<19}"
    h += f"{'lost':>6}{'VmHWM_MiB':>10}{'1st-pass':>9}"
    log(h)
    for m in MODES:
        s = res["summary"][m]
        rng = (f"[{s['ratio_min']:.3f}-{s['ratio_max']:.3f}]" if s["ratio_min"] is not None
               and m != "off" else "")
        line = (f"{m:<10}{fmt(s['median_s'], '9.3f'):>9}{fmt(s['ratio_median'], '7.3f'):>7}  "
                f"{rng:<13}{fmt(s.get('cpu_ms_median'), '8.1f', '' if m == 'off' else '-'):>8}")
        if storm:
            dh = (f"{s['delivered_total']}/{s['happened_total']}" if m != "off" else "")
            line += f"{fmt(s.get('cpu_us_per_exec_median'), '8.1f', ''):>8}  {dh:<19}"
        if m != "off":
            line += (f"{s['lost_total']:>6}{fmt(s['vm_hwm_kb_max'] and s['vm_hwm_kb_max'] / 1024, '10.1f'):>10}"
                     f"{fmt(s['first_pass_ratio_median'], '9.3f'):>9}")
        log(line)
    log()


def run_workload(wl):
    d = WORKLOAD_DEFS[wl]
    nrounds = d["rounds"]()
    if nrounds < 1:
        return None
    log(f"== {d['title']()}, {nrounds} rounds")
    try:
        d["warm"]()  # page cache, dentries: the first timed run is not the cold one
    except BenchError as e:
        problem(f"{wl}: warm-up: {e}")
        return None
    rounds = []
    for r in range(nrounds):
        k = r % len(MODES)
        order = MODES[k:] + MODES[:k]
        runs = {m: timed_run(wl, m) for m in order}
        off = runs["off"].get("seconds")
        ratios = {m: (runs[m]["seconds"] / off if off and runs[m].get("seconds") else None)
                  for m in MODES}
        off1 = runs["off"].get("first_pass_s")
        first = {m: (runs[m]["first_pass_s"] / off1 if off1 and runs[m].get("first_pass_s") else None)
                 for m in MODES}
        rounds.append({"round": r + 1, "order": order, "runs": runs, "ratios": ratios,
                       "first_pass_ratios": first})
    res = {"title": d["title"](), "rounds": rounds}
    res["summary"] = summarize(wl, rounds)
    print_workload(wl, res)
    return res


