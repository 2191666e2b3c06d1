"""bench/suite: the targets, the results file and main() (the package's docstring, __init__.py, has the whole story)."""

from .common import *  # noqa: F401,F403
from .monitors import *  # noqa: F401,F403
from .workloads import *  # noqa: F401,F403
from .phases import *  # noqa: F401,F403
from .fleet import *  # noqa: F401,F403



def reproduce_cmd():
    parts = [f"{k}={shlex.quote(str(v))}" for k, v in KNOBS.items()]
    tail = "make bench" if os.environ.get("MAKELEVEL") else "/usr/bin/python3 bench/suite"
    return " ".join(parts + [tail])


# ---------------------------------------------------------------- targets

def targets(results):
    rows = []  # (measure, value, target, met: True/False/None)
    wl = results["workloads"]
    for w, lim in TARGET_RATIO.items():
        if w not in wl or not wl[w]:
            continue
        s = wl[w]["summary"]
        pm = s.get("procmon", {}).get("ratio_median")
        if pm is None:
            continue
        rows.append((f"procmon wall ratio, {w}", f"{pm:.3f}", f"<= {lim}", pm <= lim))
        if w == "build" and s["procmon"].get("first_pass_ratio_median") is not None:
            rows.append(("  procmon first build after its start", f"{s['procmon']['first_pass_ratio_median']:.3f}",
                         "", None))
        others = {m: s[m]["ratio_median"] for m in ("auditd", "execsnoop")
                  if m in s and s[m]["ratio_median"] is not None}
        if others:
            v = ", ".join(f"{m} {r:.3f}" for m, r in others.items())
            rows.append((f"procmon ratio below others, {w}", v, f"> {pm:.3f}",
                         all(pm < r for r in others.values())))
    if wl.get("exec"):
        s = wl["exec"]["summary"]
        pc = s.get("procmon", {}).get("cpu_us_per_exec_median")
        if pc is not None:
            rows.append(("procmon CPU per exec, exec (median)", f"{pc:.1f} us", f"<= {TARGET_CPU_US:.0f} us",
                         pc <= TARGET_CPU_US))
            for m in ("execsnoop", "auditd"):
                oc = s.get(m, {}).get("cpu_us_per_exec_median")
                if oc:
                    rows.append((f"  CPU procmon / {m} ({oc:.1f} us)", f"{pc / oc:.2f}", "", None))
        for m in MON_NAMES:
            x = s.get(m)
            if x:
                rows.append((f"{m}: execs delivered, lost (exec)",
                             f"{x['delivered_total']}/{x['happened_total']}, {x['lost_total']}", "", None))
    ph = results["phases"]
    so = ph.get("soak")
    if so and "delivered" in so:
        ok = so["delivered"] == so["happened"] and so["lost"] == 0
        rows.append((f"no loss, {SOAK_S} s two-storm soak",
                     f"{so['delivered']}/{so['happened']}, lost {so['lost']}", "all, 0", ok))
    rd = ph.get("ready")
    if rd and rd.get("extra", {}).get("median_s") is not None:
        v = rd["extra"]["median_s"]
        rows.append((f"ready time, +{IDLE_PROCS} processes (median)", f"{v:.3f} s", f"< {TARGET_READY_S:.0f} s",
                     v < TARGET_READY_S))
    me = ph.get("memory")
    if me and "max_rss_kb" in me:
        v = me["max_rss_kb"]
        rows.append((f"RSS max, {MEM_LIFETIMES} lifetimes", f"{v / 1024:.1f} MiB",
                     f"< {TARGET_RSS_KB // 1024} MiB", v < TARGET_RSS_KB))
        if "growth_kb" in me:
            g = me["growth_kb"]
            rows.append((f"RSS growth, {me['growth_from']} -> {MEM_LIFETIMES} lifetimes", f"{g / 1024:+.2f} MiB",
                         f"<= {FLAT_KB / 1024:.0f} MiB", g <= FLAT_KB))
    la = ph.get("latency")
    if la and la.get("storm", {}).get("p99_ms") is not None:
        v = la["storm"]["p99_ms"]
        rows.append(("latency p99, storm events", f"{v:.1f} ms", f"< {TARGET_P99_MS:.0f} ms", v < TARGET_P99_MS))
    fl = ph.get("fleet")
    if fl and fl.get("exec"):
        e = fl["exec"]
        c = e["cpu_ratio"]
        if c["median"] is not None:
            rows.append(("fleet: CPU/exec NATS only / file only", f"{c['median']:.3f} [{c['min']:.3f}-{c['max']:.3f}]"
                         f" ({e['file']['cpu_us_per_exec']['median']:.1f} -> "
                         f"{e['nats']['cpu_us_per_exec']['median']:.1f} us)",
                         f"<= {TARGET_FLEET_CPU}", c["median"] <= TARGET_FLEET_CPU))
        ce = e.get("cpu_per_event_ratio", {})
        if ce.get("median") is not None:
            rows.append(("  fleet: CPU/event NATS only / file only", f"{ce['median']:.3f} [{ce['min']:.3f}-{ce['max']:.3f}]",
                         "", None))
        # what libnats alone would add per exec at nats_pub's own cost per
        # message: the lowest ratio a libnats publisher can reach here
        lc = (fl.get("floor_like_cpu_us") or {}).get("median")
        fc = e["file"]["cpu_us_per_exec"]["median"]
        ev = med([r["runs"]["nats"].get("messages") for r in fl.get("exec_rounds", [])
                  if r["runs"]["nats"].get("messages")])
        if lc and fc and ev:
            add = lc * ev / N
            rows.append(("  libnats alone at nats_pub's CPU/msg", f"+{add:.1f} us/exec: ratio >= "
                         f"{(fc + add) / fc:.3f}", "", None))
        wr = e["wall_ratio"]
        if wr["median"] is not None:
            rows.append(("fleet: storm wall NATS only / file only", f"{wr['median']:.3f} [{wr['min']:.3f}-{wr['max']:.3f}]",
                         f"<= {TARGET_FLEET_WALL}", wr["median"] <= TARGET_FLEET_WALL))
        sc, sn = e["nats"].get("server_cpu_us_per_exec", {}), e["nats"].get("server_net_cpu_us_per_exec", {})
        if sc.get("median") is not None:
            rows.append(("fleet: nats-server CPU/exec, storm", f"{sc['median']:.1f} us [{sc['min']:.1f}-{sc['max']:.1f}]",
                         f"<= {TARGET_FLEET_SERVER_US} us", sc["median"] <= TARGET_FLEET_SERVER_US))
        if sn.get("median") is not None:
            rows.append(("  the same, net of its idle housekeeping", f"{sn['median']:.1f} us", "", None))
        wb = e["nats"].get("wire_bytes_per_exec", {})
        if wb.get("median") is not None:
            rows.append(("fleet: bytes on the wire/exec, storm", f"{wb['median']:.0f} B [{wb['min']:.0f}-{wb['max']:.0f}]",
                         f"<= {TARGET_FLEET_WIRE_EXEC} B", wb["median"] <= TARGET_FLEET_WIRE_EXEC))
    for kind, target in (("batch", TARGET_FLEET_WIRE_BUILD), ("event", None)):
        bb = (fl or {}).get(f"build_{kind}_bytes_per_exec", {})
        if bb.get("median") is not None:
            rows.append((f"fleet: bytes on the wire/exec, build ({kind})" if target else
                         "  the same, one event a message", f"{bb['median']:.0f} B",
                         f"<= {target} B" if target else "", bb["median"] <= target if target else None))
    dr = (fl or {}).get("procmon_event_rate", {})
    if dr.get("median") is not None:
        rows.append(("fleet: spool drain, events/s", f"{dr['median']:.0f} [{dr['min']:.0f}-{dr['max']:.0f}]",
                     f">= {TARGET_FLEET_DRAIN}", dr["median"] >= TARGET_FLEET_DRAIN))
    if fl and fl.get("fraction", {}).get("median") is not None:
        fr = fl["fraction"]
        rows.append(("  drain msgs/s / nats_pub msgs/s",
                     f"{fr['median']:.3f} ({fl['procmon_rate']['median']:.0f} / {fl['floor_rate']['median']:.0f} msgs/s)",
                     "", None))
        fl_ = fl.get("fraction_like", {})
        if fl_.get("median") is not None:
            rows.append((f"  same, floor with {fl['like_bytes']} B msgs + ids",
                         f"{fl_['median']:.3f} ({fl['procmon_rate']['median']:.0f} / "
                         f"{fl['floor_like_rate']['median']:.0f} msgs/s)", "", None))
        rows.append((f"  fleet: {fl['spool']['events']} events, {fl['spool']['bytes'] / 2**20:.1f} MiB spool drained (median)",
                     f"{fl['drain_s']['median']:.2f} s", "", None))
    for case, title in (("two_storms", "fleet: no loss, 2 storms, server up"),
                        ("restart", "fleet: no loss, server kill -9 + restart")):
        r = (fl or {}).get(case)
        if r and "delivered" in r:
            ok = r["delivered"] == r["happened"] and r["lost"] == 0
            rows.append((title, f"{r['delivered']}/{r['happened']}, lost {r['lost']}, dup {r['duplicates']}",
                         "all, 0", ok))
    return rows


def print_targets(rows):
    log("== targets")
    log(f"{'measure':<44}{'value':<32}{'target':<12}verdict")
    for name, value, target, met in rows:
        verdict = "" if met is None else ("met" if met else "MISSED")
        log(f"{name:<44}{value:<32}{target:<12}{verdict}")
    log()


def save(results):
    tmp = os.path.join(DIR, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(DIR, "results.json"))


def main():
    if os.geteuid() != 0:
        die("needs root (BPF, audit)")
    if not os.access(PROCMON_ABS, os.X_OK):
        die(f"{PROCMON} not found or not executable: run make first, or set PROCMON")
    os.chdir(ROOT)
    t_begin = time.monotonic()
    ensure_packages()
    ensure_tracefs()
    compile_helpers()
    if "auditd" in MON_NAMES:
        Auditd.setup()
    version = run([PROCMON_ABS, "--version"], check=False).stdout.strip()
    results = {
        "meta": {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "kernel": os.uname().release, "cpus": os.cpu_count(),
                 "procmon": PROCMON, "procmon_version": version,
                 "auditd": run(["auditctl", "-v"], check=False).stdout.strip() if "auditd" in MON_NAMES else None,
                 "idle_ns_per_window": IDLE_NS, "window_s": WINDOW},
        "knobs": KNOBS, "workloads": {}, "phases": {}, "problems": PROBLEMS,
        "reproduce": reproduce_cmd(),
    }
    log(f"procmon benchmark suite: {PROCMON} ({version}), kernel {os.uname().release}, "
        f"{os.cpu_count()} CPUs, {results['meta']['date_utc']}")
    log(f"monitor modes per round (order rotates): {' '.join(MODES)}")
    fm = foreign_monitors()
    if fm:
        log(f"  WARNING: monitors not started by this script are running and skew every mode: {'; '.join(fm)}")
    with open("/proc/loadavg") as f:
        results["meta"]["loadavg_start"] = f.read().strip()
    log()
    if "build" in WL_NAMES and BUILD_ROUNDS:
        BUILD.setup()
    for w in WL_NAMES:
        results["workloads"][w] = run_workload(w)
        save(results)
    for name, enabled, fn in (("ready", READY_RUNS, phase_ready), ("memory", MEM_LIFETIMES, phase_memory),
                              ("soak", SOAK_S, phase_soak), ("latency", LAT_N, phase_latency),
                              ("fleet", FLEET, phase_fleet)):
        if enabled:
            results["phases"][name] = fn()
            save(results)
    rows = targets(results)
    results["targets"] = [{"measure": a, "value": b, "target": c, "met": d} for a, b, c, d in rows]
    results["wall_s"] = round(time.monotonic() - t_begin, 1)
    save(results)
    print_targets(rows)
    if PROBLEMS:
        log(f"{len(PROBLEMS)} measurement(s) could not be taken:")
        for p in PROBLEMS:
            log(f"  !! {p}")
    log(f"total {results['wall_s'] / 60:.1f} min; results: {os.path.relpath(os.path.join(DIR, 'results.json'))}")
    log(f"reproduce: {results['reproduce']}")
    return 1 if PROBLEMS else 0


def on_signal(sig, frame):
    raise KeyboardInterrupt
