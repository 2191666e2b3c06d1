"""bench/suite: the procmon-only phases: ready, memory, soak, latency (the package's docstring, __init__.py, has the whole story)."""

from .common import *  # noqa: F401,F403
from .monitors import *  # noqa: F401,F403
from .workloads import *  # noqa: F401,F403


# ---------------------------------------------------------------- procmon-only phases

def phase_ready():
    """Start-up time (exec of procmon to its ready line), plain and with
    IDLE_PROCS more processes in the process table."""
    log(f"== ready time: procmon start to 'procmon: ready', {READY_RUNS} runs each")
    res = {}

    def runs(label):
        times = []
        for _ in range(READY_RUNS):
            pm = Procmon()
            try:
                pm.start(idle=False)
                times.append(pm.ready_s)
                pm.wait_idle()
                pm.stop()
            except BenchError as e:
                problem(f"ready ({label}): {e}")
                pm.kill()
            pm.cleanup_files()
        return times

    nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
    res["plain"] = {"processes": nproc, "ready_s": runs("plain")}
    helper = None
    if IDLE_PROCS:
        helper = spawn([IDLE, str(IDLE_PROCS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def stop_helper():
            if helper.poll() is None:
                helper.stdin.close()
                try:
                    reap(helper, 60)
                except subprocess.TimeoutExpired:
                    helper.kill()
                    reap(helper)
        CLEANUPS.append(stop_helper)
        line = helper.stdout.readline().strip()
        if line != f"ready {IDLE_PROCS}":
            problem(f"ready: idle_procs said {line!r}")
        else:
            nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
            res["extra"] = {"idle_procs": IDLE_PROCS, "processes": nproc, "ready_s": runs("extra")}
        stop_helper()
        CLEANUPS.remove(stop_helper)
    for k in ("plain", "extra"):
        if k in res and res[k]["ready_s"]:
            res[k]["median_s"] = med(res[k]["ready_s"])
            log(f"  {res[k]['processes']:>5} processes: median {res[k]['median_s']:.3f} s  "
                f"(runs: {', '.join(f'{t:.3f}' for t in res[k]['ready_s'])})")
    log()
    return res


def procmon_phase(name, pm, res, body):
    """Run body() with procmon `pm`: False, the failure noted as a problem of
    the phase, when it raised BenchError. Either way pm's files are removed
    and its notes kept in res."""
    try:
        body()
        return True
    except BenchError as e:
        problem(f"{name}: {e}")
        pm.kill()
        return False
    finally:
        pm.cleanup_files()
        if pm.notes:
            res["notes"] = pm.notes


def phase_memory():
    log(f"== memory: procmon VmRSS over {MEM_LIFETIMES} process lifetimes "
        f"(fork + _exit + wait, {MEM_PAR} loops in parallel), a sample every {MEM_STEP}")
    pm = Procmon()
    res = {"samples": []}

    def soak():
        pm.start()
        hwm, rss = pm.mem()
        res["samples"].append({"lifetimes": 0, "rss_kb": rss, "hwm_kb": hwm})
        done = 0
        t0 = time.monotonic()
        while done < MEM_LIFETIMES:
            step = min(MEM_STEP, MEM_LIFETIMES - done)
            parts = [step // MEM_PAR + (1 if i < step % MEM_PAR else 0) for i in range(MEM_PAR)]
            procs = [spawn([STORM, "-f", str(n)], stdout=subprocess.DEVNULL) for n in parts if n]
            for p in procs:
                if reap(p) != 0:
                    raise BenchError("exec_storm -f failed")
            done += step
            pm.wait_idle(max_s=60)  # what the step made is processed
            hwm, rss = pm.mem()
            res["samples"].append({"lifetimes": done, "rss_kb": rss, "hwm_kb": hwm,
                                   "t_s": round(time.monotonic() - t0, 1)})
        time.sleep(6)  # exited processes linger 5 s in procmon's cache
        hwm, rss = pm.mem()
        res["after_6s"] = {"rss_kb": rss, "hwm_kb": hwm}
        res.update(pm.stop())

    if not procmon_phase("memory", pm, res, soak):
        return res
    s = res["samples"]
    # "Flat": a bounded cache fills up to its bound (PM_CACHE_EXITED_MAX
    # exited processes lingering), then stays. Growth is taken over the
    # second half of the soak, from the first sample at or past half-way.
    first = next((x for x in s if x["lifetimes"] >= MEM_LIFETIMES / 2), None)
    if first and first is not s[-1]:
        res["growth_kb"] = s[-1]["rss_kb"] - first["rss_kb"]
        res["growth_from"] = first["lifetimes"]
    res["max_rss_kb"] = max([x["rss_kb"] for x in s] + [res["after_6s"]["rss_kb"]])
    log("  " + "  ".join(f"{x['lifetimes'] // 1000}k:{x['rss_kb'] / 1024:.1f}" for x in s)
        + f"  +6s:{res['after_6s']['rss_kb'] / 1024:.1f}  (MiB)")
    log(f"  max {res['max_rss_kb'] / 1024:.1f} MiB, growth {res.get('growth_from')}"
        f" -> {s[-1]['lifetimes']}: {res.get('growth_kb', 0) / 1024:+.2f} MiB, "
        f"VmHWM {s[-1]['hwm_kb'] / 1024:.1f} MiB, lost {res['lost']}")
    log()
    return res


def phase_soak():
    log(f"== no-loss soak: 2 exec storms in parallel for {SOAK_S} s, procmon on")
    pm = Procmon()
    res = {}

    def soak():
        pm.start()
        w = storms(2, 0, ["-t", str(SOAK_S)])
        res["drain_s"] = pm.drain()
        res.update(pm.stop())
        got, bad = pm.delivered(w["pids"])
        res["storms"] = [[p, w["happened"][p], got[p]] for p in w["pids"]]
        res["happened"] = sum(w["happened"].values())
        res["delivered"] = sum(got.values())
        res["bad_lines"] = bad
        res["seconds"] = w["seconds"]

    if not procmon_phase("soak", pm, res, soak):
        return res
    log(f"  execs {res['happened']} ({', '.join(str(s[1]) for s in res['storms'])}), "
        f"in the output {res['delivered']}, lost counters {res['lost']}, "
        f"ongoing-loss lines {res['ongoing_loss_lines']}")
    log()
    return res


class FifoReader(threading.Thread):
    """Reads the FIFO continuously; (arrival ns, chunk) pairs, parsed later."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.chunks = []
        self.opened = threading.Event()

    def run(self):
        fd = os.open(self.path, os.O_RDONLY)
        self.opened.set()
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        while True:
            b = os.read(fd, 1 << 20)
            t = time.time_ns()
            if not b:
                break
            self.chunks.append((t, b))
        os.close(fd)

    def unblock(self):
        """If the writer never came, open for writing so open() returns."""
        if not self.opened.is_set():
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass


def iso_ms(ts, cache={}):
    """'2026-11-22T05:47:41.940Z' -> ms since the epoch."""
    k = ts[:19]
    s = cache.get(k)
    if s is None:
        s = cache[k] = calendar.timegm(time.strptime(k, "%Y-%m-%dT%H:%M:%S")) * 1000
    frac = ts[20:-1] if len(ts) > 20 else "0"
    return s + int((frac + "000")[:3])


def pct(xs, p):
    """Nearest-rank percentile of a sorted list."""
    if not xs:
        return None
    return xs[max(0, min(len(xs) - 1, -(-len(xs) * p // 100) - 1))]


def phase_latency():
    log(f"== latency: procmon > FIFO, one storm of {LAT_N} execs")
    fifo = os.path.join(DIR, "lat.fifo")
    if os.path.exists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo, 0o600)
    reader = FifoReader(fifo)
    reader.start()  # before procmon: the open for writing waits for a reader
    pm = Procmon(fifo=fifo)
    res = {}
    try:
        pm.start()
        t_storm = time.time_ns() // 1_000_000
        w = storms(1, LAT_N)
        pm.drain()
        res.update(pm.stop())
    except BenchError as e:
        problem(f"latency: {e}")
        pm.kill()
        reader.unblock()
        return res
    finally:
        if pm.notes:
            res["notes"] = pm.notes
        reader.unblock()
        reader.join(30)
        os.remove(fifo)
    spid = w["pids"][0]
    storm_lat, all_lat = [], []
    buf = b""
    bad = 0
    counts = {"ProcessExec": 0, "ProcessClone": 0, "ProcessExit": 0}
    for t, chunk in reader.chunks:
        lines = (buf + chunk).split(b"\n")
        buf = lines.pop()
        for raw in lines:
            try:
                e = json.loads(raw)
                ts = iso_ms(e["timestamp"])
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            if ts < t_storm:
                continue  # the start-up scan's events: not the storm's window
            lat = t / 1e6 - ts
            all_lat.append(lat)
            typ, p, par = e.get("type"), e.get("process") or {}, e.get("parent") or {}
            if ((typ == "ProcessExec" and par.get("pid") == spid and p.get("filename") == "true")
                    or (typ in ("ProcessClone", "ProcessExit") and p.get("ppid") == spid)):
                storm_lat.append(lat)
                counts[typ] += 1
    for name, xs in (("storm", storm_lat), ("all", all_lat)):
        xs.sort()
        res[name] = {"events": len(xs), "p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99),
                     "max_ms": xs[-1] if xs else None}
        log(f"  {name + ' events':<13} {len(xs):>7}: p50 {fmt(pct(xs, 50), '.1f')} ms, "
            f"p99 {fmt(pct(xs, 99), '.1f')} ms, max {fmt(xs[-1] if xs else None, '.1f')} ms")
    res["storm_counts"] = counts
    res["bad_lines"] = bad + (1 if buf.strip() else 0)
    log(f"  storm events found: exec {counts['ProcessExec']}, clone {counts['ProcessClone']}, "
        f"exit {counts['ProcessExit']} (of {LAT_N} each); lost counters {res['lost']}")
    log()
    return res


