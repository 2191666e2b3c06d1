"""bench/suite: the fleet output phase (NATS JetStream) (the package's docstring, __init__.py, has the whole story)."""

from .common import *  # noqa: F401,F403
from .monitors import *  # noqa: F401,F403
from .workloads import *  # noqa: F401,F403
from .phases import *  # noqa: F401,F403


# ---------------------------------------------------------------- fleet output (NATS JetStream)

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
FLEET_TAG = "procmon-bench-fleet-"  # in every nats-server's argv (its store): ours
FLEET_STREAM = "PROCMON"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def natsproto():
    sys.path.insert(0, os.path.join(ROOT, "tests", "fleet"))
    import natsproto as m
    return m


class NatsServer:
    """nats-server -js on a free loopback port with its own store, stopped by
    cleanup() whatever happens."""

    def __init__(self, base, name):
        self.base, self.name = base, name
        self.port = free_port()
        self.store = os.path.join(base, f"store-{name}")
        self.log = os.path.join(base, f"{name}.log")
        self.proc = None
        CLEANUPS.append(self.stop)

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        import socket
        with open(self.log, "ab") as logf:
            self.proc = spawn([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                               "-sd", self.store, "-n", self.name], stdout=logf, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                with open(self.log, errors="replace") as f:
                    tail = " | ".join(f.read().strip().splitlines()[-3:])
                raise BenchError(f"nats-server {self.name} exited: {tail}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                pass
            if time.monotonic() - t0 > 15:
                raise BenchError(f"nats-server {self.name} not listening after 15 s")
            time.sleep(0.02)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            reap(self.proc, 10)

    def stop(self, remove_store=False):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                reap(self.proc, 10)
            except subprocess.TimeoutExpired:
                self.kill9()
        elif self.proc:
            LIVE.discard(self.proc)
        if remove_store:
            shutil.rmtree(self.store, ignore_errors=True)

    def count(self, client=None):
        """Messages in the stream, None when the server does not answer."""
        np = natsproto()
        try:
            if client:
                return client.stream_count(FLEET_STREAM)
            with np.Client(self.port, timeout=2) as c:
                return c.stream_count(FLEET_STREAM)
        except (OSError, np.NatsError):
            return None

    def cpu_ns(self):
        return sched_ns(self.proc.pid) if self.proc else None


def fleet_config(base, name, output, server=None, spool=None, spool_mb=64):
    """procmon's built-in configuration (config/procmon.yaml) with `output`
    and, when server is given, a nats block for it."""
    with open(os.path.join(ROOT, "config", "procmon.yaml")) as f:
        text = f.read()
    text, k = re.subn(r"(?m)^output:.*$", f"output: {json.dumps(output)}", text)
    if k != 1:
        raise BenchError("config/procmon.yaml: no single top-level 'output:' line")
    if server:
        text += ("\nnats:\n  enabled: true\n"
                 f"  servers: [{json.dumps(server.url)}]\n"
                 f"  stream: {FLEET_STREAM}\n  create_stream: true\n"
                 f"  spool_dir: {json.dumps(spool)}\n  spool_max_mb: {spool_mb}\n")
    path = os.path.join(base, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def stream_execs(server, pids, base):
    """The storm's ProcessExec events in the stream (procmon-tail --all
    --catch-up --type ProcessExec): unique per storm pid, and how many came
    more than once (same event_id)."""
    path = os.path.join(base, "tail.jsonl")
    with open(path, "wb") as out:
        p = spawn([os.path.join(ROOT, "build", "procmon-tail"), "--server", server.url,
                   "--stream", FLEET_STREAM, "--all", "--catch-up", "--type", "ProcessExec"],
                  stdout=out, stderr=subprocess.PIPE)
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            reap(p)
            raise BenchError("procmon-tail --catch-up did not finish within 120 s")
        rc = reap(p)
    if rc != 0:
        raise BenchError(f"procmon-tail exit {rc}: {err.decode(errors='replace').strip()[-300:]}")
    want = {q: set() for q in pids}
    dups, bad = 0, 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                e = json.loads(raw)
            except ValueError:
                bad += 1
                continue
            pr, par = e.get("process") or {}, e.get("parent") or {}
            pp = par.get("pid")
            if pp in want and pr.get("filename") == "true" and pr.get("args") == "bench exec-storm":
                if e.get("event_id") in want[pp]:
                    dups += 1
                want[pp].add(e.get("event_id"))
    if not KEEP:
        os.remove(path)
    return {q: len(v) for q, v in want.items()}, dups, bad


def spool_bytes(d):
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".seg"))
    except OSError:
        return 0


class Fleet:
    def __init__(self):
        import tempfile
        self.base = tempfile.mkdtemp(prefix=FLEET_TAG)
        os.chmod(self.base, 0o700)
        self.k = 0
        CLEANUPS.append(self.cleanup)

    def server(self, name=None):
        self.k += 1
        return NatsServer(self.base, name or f"s{self.k}")

    def cleanup(self):
        if not KEEP:
            shutil.rmtree(self.base, ignore_errors=True)


def fleet_storm_run(fl, mode):
    """One timed exec storm with procmon writing a file (mode 'file') or
    publishing to a fresh nats-server with no file (mode 'nats')."""
    rec = {"mode": mode}
    srv = None
    pm = None
    try:
        if mode == "nats":
            srv = fl.server().start()
            spool = os.path.join(fl.base, f"spool-{fl.k}")
            cfg = fleet_config(fl.base, "nats", "none", srv, spool)
        else:
            cfg = fleet_config(fl.base, "file", os.path.join(DIR, "procmon.jsonl"))
        pm = Procmon(config=cfg)
        if mode == "file":
            pm.out = os.path.join(DIR, "procmon.jsonl")
            if os.path.isfile(pm.out):
                os.remove(pm.out)
        pm.start()
        storms(1, max(N // 10, 1))  # the untimed first pass, as timed_run does
        pm.wait_idle()
        cpu0, scpu0 = pm.cpu_ns(), srv.cpu_ns() if srv else None
        ev0 = events_out(pm, srv)
        th0 = thread_cpu(pm.proc.pid)
        w = storms(1, N)
        rec["seconds"] = w["seconds"]
        rec["happened"] = N
        rec["drain_s"] = round(pm.drain(), 3)
        rec["cpu_ns"] = pm.cpu_ns() - cpu0
        th1 = thread_cpu(pm.proc.pid)
        rec["thread_cpu_us_per_exec"] = {k: round((v - th0.get(k, 0)) / 1e3 / N, 1) for k, v in th1.items()
                                         if v - th0.get(k, 0) > 0}
        if srv:
            rec["server_cpu_ns"] = srv.cpu_ns() - scpu0
        rec.update(pm.stop())
        ev1 = events_out(pm, srv)
        if ev0 is not None and ev1 is not None:
            rec["events"] = ev1 - ev0
        if srv:
            got, dups, bad = stream_execs(srv, w["pids"], fl.base)
            rec["duplicates"] = dups
        else:
            got, bad = pm.delivered(w["pids"])
        rec["delivered"] = sum(got.values())
        if bad:
            rec["bad_lines"] = bad
    except BenchError as e:
        problem(f"fleet exec/{mode}: {e}")
        rec["error"] = str(e)
        if pm:
            pm.kill()
    finally:
        if pm:
            pm.cleanup_files()
            if pm.notes:
                rec["notes"] = pm.notes
        if srv:
            srv.stop(remove_store=True)
    return rec


def thread_cpu(pid):
    """On-CPU ns of pid's main thread and of its other threads, by name."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                comm = f.read().strip()
            comm = "main" if t == str(pid) else f"{comm} (other threads)"
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                out[comm] = out.get(comm, 0) + int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def events_out(pm, srv):
    """Events procmon has put out so far: the stream's messages, or the
    output file's lines. On a shared host procmon also reports other
    people's processes: CPU per event is the figure their storms skew less."""
    if srv:
        return srv.count()
    try:
        with open(pm.out, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return 0


def fleet_exec(fl, res):
    log(f"-- exec storm, {N} execs: procmon --config (built-in + output: none + nats) "
        f"against procmon writing a file, {FLEET_ROUNDS} rounds, order alternating")
    rounds = []
    for r in range(FLEET_ROUNDS):
        order = ["file", "nats"] if r % 2 == 0 else ["nats", "file"]
        runs = {m: fleet_storm_run(fl, m) for m in order}
        f, n = runs["file"], runs["nats"]
        x = {"round": r + 1, "order": order, "runs": runs}
        if f.get("seconds") and n.get("seconds"):
            x["wall_ratio"] = n["seconds"] / f["seconds"]
        if f.get("cpu_ns") and n.get("cpu_ns"):
            x["cpu_ratio"] = n["cpu_ns"] / f["cpu_ns"]
        if f.get("cpu_ns") and n.get("cpu_ns") and f.get("events") and n.get("events"):
            x["cpu_per_event_ratio"] = (n["cpu_ns"] / n["events"]) / (f["cpu_ns"] / f["events"])
        rounds.append(x)
        log(f"  round {r + 1} ({order[0]} first): file {fmt(f.get('seconds'), '.3f')} s "
            f"{fmt(f.get('cpu_ns') and f['cpu_ns'] / 1e3 / N, '.1f')} us/exec "
            f"{f.get('delivered', '-')}/{N} | nats {fmt(n.get('seconds'), '.3f')} s "
            f"{fmt(n.get('cpu_ns') and n['cpu_ns'] / 1e3 / N, '.1f')} us/exec "
            f"(server {fmt(n.get('server_cpu_ns') and n['server_cpu_ns'] / 1e3 / N, '.1f')}) "
            f"{n.get('delivered', '-')}/{N} | wall {fmt(x.get('wall_ratio'), '.3f')} "
            f"cpu {fmt(x.get('cpu_ratio'), '.3f')} | events out: file {f.get('events', '-')}, "
            f"nats {n.get('events', '-')}, cpu/event {fmt(x.get('cpu_per_event_ratio'), '.3f')}")
    res["exec_rounds"] = rounds

    def mmm(xs):
        xs = [v for v in xs if v is not None]
        return {"median": med(xs), "min": min(xs) if xs else None, "max": max(xs) if xs else None}
    s = {}
    for m in ("file", "nats"):
        runs = [r["runs"][m] for r in rounds]
        s[m] = {"seconds": mmm(r.get("seconds") for r in runs),
                "cpu_us_per_exec": mmm(r.get("cpu_ns") and r["cpu_ns"] / 1e3 / N for r in runs),
                "delivered": sum(r.get("delivered") or 0 for r in runs),
                "happened": sum(r.get("happened") or 0 for r in runs),
                "lost": sum(r.get("lost") or 0 for r in runs)}
    s["nats"]["server_cpu_us_per_exec"] = mmm(r["runs"]["nats"].get("server_cpu_ns") and
                                              r["runs"]["nats"]["server_cpu_ns"] / 1e3 / N for r in rounds)
    s["wall_ratio"] = mmm(r.get("wall_ratio") for r in rounds)
    s["cpu_ratio"] = mmm(r.get("cpu_ratio") for r in rounds)
    s["cpu_per_event_ratio"] = mmm(r.get("cpu_per_event_ratio") for r in rounds)
    for m in ("file", "nats"):
        s[m]["cpu_us_per_event"] = mmm(r["runs"][m].get("cpu_ns") and r["runs"][m].get("events") and
                                       r["runs"][m]["cpu_ns"] / 1e3 / r["runs"][m]["events"] for r in rounds)
    res["exec"] = s

    def rng(d, spec):
        return f"{fmt(d['median'], spec)} [{fmt(d['min'], spec)}-{fmt(d['max'], spec)}]"
    log(f"  CPU per exec (median [min-max]): file {rng(s['file']['cpu_us_per_exec'], '.1f')} us, "
        f"nats {rng(s['nats']['cpu_us_per_exec'], '.1f')} us; nats/file per round {rng(s['cpu_ratio'], '.3f')}")
    log(f"  CPU per event put out: file {rng(s['file']['cpu_us_per_event'], '.1f')} us, nats "
        f"{rng(s['nats']['cpu_us_per_event'], '.1f')} us; nats/file per round {rng(s['cpu_per_event_ratio'], '.3f')}")
    log(f"  nats-server CPU per exec {rng(s['nats']['server_cpu_us_per_exec'], '.1f')} us (not procmon's)")
    log(f"  storm wall time nats/file per round {rng(s['wall_ratio'], '.3f')}; delivered "
        f"file {s['file']['delivered']}/{s['file']['happened']}, nats {s['nats']['delivered']}/"
        f"{s['nats']['happened']}")


def fleet_fill(fl, res):
    """A spool of FLEET_SPOOL_MB of real events: procmon publishing to a
    server that is not running, exec storms until the spool is that big."""
    srv = fl.server("down")  # never started: its port refuses
    spool = os.path.join(fl.base, "spool-fill")
    cfg = fleet_config(fl.base, "fill", "none", srv, spool, spool_mb=FLEET_SPOOL_MB * 2 + 16)
    pm = Procmon(config=cfg)
    target = FLEET_SPOOL_MB << 20
    t0 = time.monotonic()
    try:
        pm.start()
        execs = 0
        while spool_bytes(spool) < target:
            w = storms(2, 0, ["-t", "1"])
            execs += sum(w["happened"].values())
            if time.monotonic() - t0 > 900:
                raise BenchError(f"spool still {spool_bytes(spool) >> 20} MB after 15 min of storms")
        pm.drain()
        st = pm.stop()
    except BenchError as e:
        pm.kill()
        raise BenchError(f"filling the spool: {e}")
    finally:
        pm.cleanup_files()
    n = st.get("nats", {})
    if not n.get("spooled"):
        raise BenchError(f"filling the spool: procmon reports nothing spooled: {st.get('nats_at_exit')}")
    if n.get("dropped"):
        raise BenchError(f"filling the spool: procmon dropped {n['dropped']} events (spool bound)")
    res["spool"] = {"events": n["spooled"], "bytes": n.get("spooled_bytes") or spool_bytes(spool),
                    "execs": execs, "fill_s": round(time.monotonic() - t0, 1)}
    log(f"  spool filled with the server down: {n['spooled']} events, "
        f"{res['spool']['bytes'] / 2**20:.1f} MiB ({execs} execs, {res['spool']['fill_s']} s)")
    orig = spool + ".orig"
    os.rename(spool, orig)
    return orig, n["spooled"]


def fleet_floor_run(fl, n=None, size=1024, msgid=0):
    """nats_pub's rate, and its own CPU (user + system, from wait4) per
    acknowledged message: what libnats costs a client at best."""
    srv = fl.server().start()
    try:
        p = spawn([os.path.join(DIR, "nats_pub"), srv.url, "FLOOR", str(n or FLEET_PUB_N), str(size),
                   "4096", str(msgid)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        LIVE.discard(p)
        fields = out.split()
        if p.returncode != 0 or len(fields) != 3:
            raise BenchError(f"nats_pub exit {p.returncode}: {out.strip()[-300:]}")
        return {"acked": int(fields[0]), "seconds": float(fields[1]), "rate": float(fields[2]),
                "cpu_us_per_msg": (ru.ru_utime + ru.ru_stime) * 1e6 / max(int(fields[0]), 1)}
    finally:
        srv.stop(remove_store=True)


def fleet_drain_run(fl, orig, events):
    """procmon started on a copy of the filled spool, the server up: the
    time until the stream holds every spooled event."""
    np = natsproto()
    srv = fl.server().start()
    spool = os.path.join(fl.base, "spool-drain")
    shutil.rmtree(spool, ignore_errors=True)
    shutil.copytree(orig, spool)
    cfg = fleet_config(fl.base, "drain", "none", srv, spool, spool_mb=FLEET_SPOOL_MB * 2 + 16)
    pm = Procmon(config=cfg)
    rec = {}
    seen = {"first": None, "done": None, "n": 0, "error": None}
    stop = threading.Event()

    def poll():
        # from before procmon's exec: it publishes before its ready line
        try:
            with np.Client(srv.port, timeout=5) as c:
                while not stop.is_set():
                    n = c.stream_count(FLEET_STREAM)
                    t = time.monotonic()
                    seen["n"] = n
                    if n and seen["first"] is None:
                        seen["first"] = (t, n)
                    if n >= events:
                        seen["done"] = t
                        return
                    time.sleep(0.02)
        except (OSError, np.NatsError) as e:
            seen["error"] = str(e)
    poller = threading.Thread(target=poll, daemon=True)
    try:
        poller.start()
        pm.start(idle=False)
        deadline = time.monotonic() + max(120, FLEET_SPOOL_MB * 3)
        while poller.is_alive():
            poller.join(0.1)
            pm.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"stream holds {seen['n']} of {events} spooled events after "
                                 f"{time.monotonic() - pm.t_spawn:.0f} s")
        if seen["done"] is None:
            raise BenchError(f"reading the stream's count: {seen['error']}")
        t = seen["done"]
        first = seen["first"]
        rec["drain_s"] = t - pm.t_spawn  # from procmon's exec: start-up and spool scan included
        rec["ready_s"] = pm.ready_s
        if t > first[0]:
            rec["rate"] = (events - first[1]) / (t - first[0])  # first ack seen to the last
        pm.wait_idle()
        rec.update(pm.stop())
    except BenchError:
        pm.kill()
        raise
    finally:
        stop.set()
        poller.join(10)
        pm.cleanup_files()
        srv.stop(remove_store=True)
        shutil.rmtree(spool, ignore_errors=True)
    return rec


def fleet_drain(fl, res):
    log(f"-- sustained rate: nats_pub ({FLEET_PUB_N} x 1 KiB, async JetStream publish, file storage, "
        f"window 4096) against procmon draining a {FLEET_SPOOL_MB} MiB spool of real events, "
        f"{FLEET_DRAIN_ROUNDS} rounds, order alternating, a fresh server each")
    orig, events = fleet_fill(fl, res)
    # also the floor for messages like procmon's: their mean size, a Nats-Msg-Id each
    like = int(res["spool"]["bytes"] / events)
    rounds = []
    for r in range(FLEET_DRAIN_ROUNDS):
        order = ["floor", "procmon", "floor_like"] if r % 2 == 0 else ["floor_like", "procmon", "floor"]
        x = {"round": r + 1, "order": order}
        for m in order:
            try:
                x[m] = (fleet_floor_run(fl) if m == "floor" else
                        fleet_floor_run(fl, max(events, 20000), like, 1) if m == "floor_like" else
                        fleet_drain_run(fl, orig, events))
            except BenchError as e:
                problem(f"fleet drain/{m}: {e}")
                x[m] = {"error": str(e)}
        fr, pr, lr = x["floor"].get("rate"), x["procmon"].get("rate"), x["floor_like"].get("rate")
        if fr and pr:
            x["fraction"] = pr / fr
        if lr and pr:
            x["fraction_like"] = pr / lr
        rounds.append(x)
        log(f"  round {r + 1} ({order[0]} first): floor {fmt(fr, '.0f')} msgs/s | procmon drain "
            f"{fmt(pr, '.0f')} msgs/s, all {events} in {fmt(x['procmon'].get('drain_s'), '.2f')} s "
            f"from its start | procmon/floor {fmt(x.get('fraction'), '.3f')} | floor with {like} B "
            f"and msg ids {fmt(lr, '.0f')} msgs/s, procmon/that {fmt(x.get('fraction_like'), '.3f')}")
    shutil.rmtree(orig, ignore_errors=True)
    res["drain_rounds"] = rounds
    for k, path in (("floor_rate", ("floor", "rate")), ("procmon_rate", ("procmon", "rate")),
                    ("floor_like_rate", ("floor_like", "rate")),
                    ("floor_cpu_us", ("floor", "cpu_us_per_msg")),
                    ("floor_like_cpu_us", ("floor_like", "cpu_us_per_msg")),
                    ("drain_s", ("procmon", "drain_s"))):
        xs = [r[path[0]].get(path[1]) for r in rounds if r[path[0]].get(path[1])]
        res[k] = {"median": med(xs), "min": min(xs) if xs else None, "max": max(xs) if xs else None}
    fr = [r["fraction"] for r in rounds if "fraction" in r]
    res["fraction"] = {"median": med(fr), "min": min(fr) if fr else None, "max": max(fr) if fr else None}
    fr = [r["fraction_like"] for r in rounds if "fraction_like" in r]
    res["fraction_like"] = {"median": med(fr), "min": min(fr) if fr else None, "max": max(fr) if fr else None}
    res["like_bytes"] = like
    sp = res["spool"]
    ev_b = sp["bytes"] / max(sp["events"], 1)
    if res["floor_rate"]["median"] and res["procmon_rate"]["median"]:
        res["bytes_fraction"] = res["procmon_rate"]["median"] * ev_b / (res["floor_rate"]["median"] * 1024)
        log(f"  in bytes: floor {res['floor_rate']['median'] * 1024 / 2**20:.1f} MiB/s, procmon "
            f"{res['procmon_rate']['median'] * ev_b / 2**20:.1f} MiB/s of spooled records "
            f"({res['bytes_fraction']:.2f} of the floor)")
    log(f"  nats_pub's own CPU per acknowledged message (libnats at best, in a tight loop): "
        f"{fmt(res['floor_cpu_us']['median'], '.1f')} us at 1 KiB, "
        f"{fmt(res['floor_like_cpu_us']['median'], '.1f')} us at {like} B with msg ids")
    log(f"  floor {fmt(res['floor_rate']['median'], '.0f')} msgs/s, procmon "
        f"{fmt(res['procmon_rate']['median'], '.0f')} msgs/s ({sp['bytes'] / max(sp['events'], 1):.0f} B/event): "
        f"{fmt(res['fraction']['median'], '.3f')} of the floor "
        f"[{fmt(res['fraction']['min'], '.3f')}-{fmt(res['fraction']['max'], '.3f')}]; "
        f"{sp['bytes'] / 2**20:.1f} MiB spool drained in {fmt(res['drain_s']['median'], '.2f')} s (median)")


def fleet_loss(fl, res):
    log(f"-- no loss: 2 parallel storms of {N}, server up; 1 storm of {FLEET_RESTART_N}, "
        f"server kill -9 and restarted on its store in the middle")
    for case in ("two_storms", "restart"):
        srv = fl.server().start()
        spool = os.path.join(fl.base, f"spool-{case}")
        cfg = fleet_config(fl.base, case, "none", srv, spool)
        pm = Procmon(config=cfg)
        rec = {}
        try:
            pm.start()
            if case == "two_storms":
                w = storms(2, N)
            else:
                p = spawn([STORM, str(FLEET_RESTART_N)], stdout=subprocess.PIPE, text=True)
                # kill the server once the storm is well under way: a third
                # of its execs published
                t0 = time.monotonic()
                while (srv.count() or 0) < FLEET_RESTART_N * 4 // 3:  # ~4 events per exec
                    if p.poll() is not None or time.monotonic() - t0 > 120:
                        break
                    time.sleep(0.05)
                rec["count_at_kill"] = srv.count()
                srv.kill9()
                rec["killed_after_s"] = round(time.monotonic() - t0, 2)
                time.sleep(1)
                srv.start()
                rec["restarted_before_storm_end"] = p.poll() is None
                out = p.communicate()[0]
                if reap(p) != 0:
                    raise BenchError("exec_storm failed")
                w = {"pids": [p.pid], "happened": {p.pid: FLEET_RESTART_N}, "seconds": float(out.split()[0])}
            # wait (on the stream, at most 60 s) until the storm's execs are in
            t0 = time.monotonic()
            while True:
                got, dups, bad = stream_execs(srv, w["pids"], fl.base)
                if sum(got.values()) >= sum(w["happened"].values()) or time.monotonic() - t0 > 60:
                    break
                time.sleep(0.5)
            rec.update(pm.stop())
            got, dups, bad = stream_execs(srv, w["pids"], fl.base)
            rec["storms"] = [[q, w["happened"][q], got[q]] for q in w["pids"]]
            rec["happened"] = sum(w["happened"].values())
            rec["delivered"] = sum(got.values())
            rec["duplicates"] = dups
            rec["bad_lines"] = bad
        except BenchError as e:
            problem(f"fleet loss/{case}: {e}")
            rec["error"] = str(e)
            pm.kill()
        finally:
            pm.cleanup_files()
            srv.stop(remove_store=True)
        res[case] = rec
        if "delivered" in rec:
            n = rec.get("nats", {})
            log(f"  {case}: storm execs in the stream {rec['delivered']}/{rec['happened']} "
                f"(duplicates {rec['duplicates']}), lost counters {rec['lost']}, "
                f"spooled at exit {n.get('spooled')}, dropped {n.get('dropped')}, "
                f"reconnects {n.get('reconnects')}"
                + (f"; killed {rec['killed_after_s']} s in, with {rec['count_at_kill']} messages in the stream"
                   if case == "restart" else ""))


def leftover_servers():
    out = subprocess.run(["pgrep", "-a", "-x", "nats-server"], stdout=subprocess.PIPE, text=True).stdout
    return [l for l in out.splitlines() if FLEET_TAG in l]


FLEET_LONE = 10  # lone execs of the latency part, each after a quiet spell


def fleet_latency(fl, res):
    """From an event's timestamp to its message at a core subscriber of the
    stream's subjects (nats.batch_ms at its default): lone execs, each
    after a quiet spell, then a storm."""
    n = LAT_N or 300
    log(f"-- latency to a subscriber: {FLEET_LONE} lone execs, each after 0.2 s of quiet, "
        f"then a storm of {n} execs")
    np = natsproto()
    srv = fl.server().start()
    cfg = fleet_config(fl.base, "latency", "none", srv, os.path.join(fl.base, "spool-latency"))
    got, stop = [], threading.Event()
    client = np.Client(srv.port, timeout=5)
    client.subscribe("procmon.>")

    def receive():
        while not stop.is_set():
            try:
                m = client.next_msg(0.2)
            except (OSError, np.NatsError):
                return
            if m:
                got.append((time.time_ns() / 1e6, m[2]))
    rx = threading.Thread(target=receive, daemon=True)
    rx.start()

    def execs_seen(pred):
        out = []
        for t, raw in list(got):
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            if e.get("type") == "ProcessExec" and pred(e):
                out.append(t - iso_ms(e["timestamp"]))
        return out
    spid = None

    def storm_pred(e):
        return (e.get("parent") or {}).get("pid") == spid and e["process"].get("filename") == "true"
    pm = Procmon(config=cfg)
    rec = {}
    try:
        pm.start()
        for i in range(FLEET_LONE):
            time.sleep(0.2)  # the quiet spell before it: what this part measures
            tag = f"bench-lone-{i}"
            run(["/bin/true", tag])
            t0 = time.monotonic()
            while not execs_seen(lambda e: e["process"].get("args") == tag):
                if time.monotonic() - t0 > 10:
                    raise BenchError(f"lone exec {i} not published within 10 s")
                time.sleep(0.005)
        spid = storms(1, n)["pids"][0]
        t0 = time.monotonic()
        while len(execs_seen(storm_pred)) < n and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        rec.update(pm.stop())
    except BenchError as e:
        problem(f"fleet latency: {e}")
        pm.kill()
    finally:
        stop.set()
        rx.join(5)
        client.close()
        srv.stop(remove_store=True)
    lone = sorted(execs_seen(lambda e: str(e["process"].get("args", "")).startswith("bench-lone-")))
    storm = sorted(execs_seen(storm_pred)) if spid else []
    for name, xs in (("lone", lone), ("storm", storm)):
        rec[name] = {"events": len(xs), "p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99),
                     "max_ms": xs[-1] if xs else None}
        log(f"  {name} execs {len(xs):>5}: p50 {fmt(pct(xs, 50), '.1f')} ms, p99 "
            f"{fmt(pct(xs, 99), '.1f')} ms, max {fmt(xs[-1] if xs else None, '.1f')} ms")
    res["latency"] = rec


def phase_fleet():
    log("== fleet output: NATS JetStream (nats-server on 127.0.0.1, its own store)")
    res = {}
    fl = Fleet()
    try:
        if FLEET_ROUNDS:
            fleet_exec(fl, res)
        if FLEET_DRAIN_ROUNDS:
            try:
                fleet_drain(fl, res)
            except BenchError as e:
                problem(f"fleet drain: {e}")
        fleet_loss(fl, res)
        fleet_latency(fl, res)
    finally:
        for f in list(CLEANUPS):
            if getattr(f, "__self__", None) is not None and isinstance(f.__self__, NatsServer):
                f()
                CLEANUPS.remove(f)
        fl.cleanup()
        CLEANUPS.remove(fl.cleanup)
        left = leftover_servers()
        if left:
            problem(f"fleet: nats-server left running: {left}")
    log()
    return res


