"""bench/suite: the fleet output phase (NATS JetStream) (the package's docstring, __init__.py, has the whole story)."""

import contextlib

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
        self.mport = free_port()  # monitoring (/varz): the bytes clients sent
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
                               "-m", str(self.mport), "-sd", self.store, "-n", self.name],
                              stdout=logf, stderr=subprocess.STDOUT)
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

    def cpu_ns(self):
        return sched_ns(self.proc.pid) if self.proc else None

    def in_bytes(self):
        """Bytes the server has read from its clients (/varz in_bytes): what
        procmon put on the wire, protocol and headers included. None when
        the server does not answer."""
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.mport}/varz", timeout=2) as r:
                return json.loads(r.read())["in_bytes"]
        except (OSError, ValueError, KeyError):
            return None


def fleet_config(base, name, output, server=None, spool=None, spool_mb=64, message="batch"):
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
        if message != "batch":  # the default: left out, so that PROCMON may be a previous version
            text += f"  message: {message}\n"
    path = os.path.join(base, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


class StreamEvents:
    """The events a stream holds, read message by message from where the
    last update stopped (a batch decoded: tests/fleet/natsproto.py), so a
    wait on the stream fetches each message once. Counts events, messages
    and ProcessExec events; keeps the event_ids of the storm execs of the
    pids given."""

    def __init__(self, server, pids=()):
        self.server, self.next_seq = server, 1
        self.events = self.messages = self.execs = self.bad = self.dups = 0
        self.storm = {q: set() for q in pids}

    def update(self):
        np = natsproto()
        with np.Client(self.server.port, timeout=5) as c:
            st = c.stream_info(FLEET_STREAM)["state"]
            for seq in range(max(st["first_seq"], self.next_seq), st["last_seq"] + 1):
                try:
                    m = c.msg(FLEET_STREAM, seq)
                except np.NatsError as e:
                    if "not found" in str(e) or "10037" in str(e):
                        continue
                    raise
                self.messages += 1
                execs = m["subject"].endswith(".ProcessExec")
                for raw in np.message_lines(m):
                    self.events += 1
                    self.execs += execs
                    if execs and self.storm:
                        self.storm_exec(raw)
            self.next_seq = max(self.next_seq, st["last_seq"] + 1)
        return self

    def storm_exec(self, raw):
        try:
            e = json.loads(raw)
        except ValueError:
            self.bad += 1
            return
        pr, par = e.get("process") or {}, e.get("parent") or {}
        pp = par.get("pid")
        if pp in self.storm and pr.get("filename") == "true" and pr.get("args") == "bench exec-storm":
            if e.get("event_id") in self.storm[pp]:
                self.dups += 1
            self.storm[pp].add(e.get("event_id"))

    def count(self):
        """Events in the stream now; None when the server does not answer."""
        try:
            return self.update().events
        except (OSError, natsproto().NatsError):
            return None


def stream_execs(server, pids, base=None):
    """The storm's ProcessExec events in the stream: unique per storm pid,
    how many came more than once (same event_id), lines that were not JSON."""
    se = StreamEvents(server, pids).update()
    return {q: len(v) for q, v in se.storm.items()}, se.dups, se.bad


def spool_census(d):
    """(records, events, bytes) of the spool's segment files: each record's
    header ("PSR2": its number of events; "PSR1": one event)."""
    import struct
    records = events = size = 0
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not f.endswith(".seg"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            data = fh.read()
        size += len(data)
        off = 0
        while off + 20 <= len(data):
            magic, length = data[off:off + 4], struct.unpack_from("<I", data, off + 4)[0]
            if magic == b"PSR2" and off + 24 <= len(data):
                events += struct.unpack_from("<I", data, off + 20)[0]
                off += 24 + length
            elif magic == b"PSR1":
                events += 1
                off += 20 + length
            else:
                break
            records += 1
    return records, events, size


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
        se = StreamEvents(srv) if srv else None
        if se:
            se.update()
            ib0, msg0, ex0 = srv.in_bytes(), se.messages, se.execs
            # the server's own housekeeping, to tell from what procmon costs it
            i0 = srv.cpu_ns()
            time.sleep(1)
            rec["server_idle_ns_per_s"] = srv.cpu_ns() - i0
        cpu0, scpu0 = pm.cpu_ns(), srv.cpu_ns() if srv else None
        t0 = time.monotonic()
        ev0 = events_out(pm, se)
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
            rec["server_net_cpu_ns"] = rec["server_cpu_ns"] - rec["server_idle_ns_per_s"] * (
                time.monotonic() - t0)
        rec.update(pm.stop())
        ev1 = events_out(pm, se)
        if ev0 is not None and ev1 is not None:
            rec["events"] = ev1 - ev0
        if se:
            ib1 = srv.in_bytes()
            if ib0 is not None and ib1 is not None:
                rec["wire_bytes"] = ib1 - ib0
            rec["messages"] = se.messages - msg0
            rec["stream_execs"] = se.execs - ex0
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


def events_out(pm, se):
    """Events procmon has put out so far: the stream's events (se, a
    StreamEvents), or the output file's lines. On a shared host procmon
    also reports other people's processes: CPU per event is the figure
    their storms skew less."""
    if se:
        return se.count()
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
            f"nats {n.get('events', '-')} in {n.get('messages', '-')} msgs, cpu/event "
            f"{fmt(x.get('cpu_per_event_ratio'), '.3f')} | wire {fmt(n.get('wire_bytes') and n['wire_bytes'] / N, '.0f')} B/exec")
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
    s["nats"]["server_net_cpu_us_per_exec"] = mmm(r["runs"]["nats"].get("server_net_cpu_ns") and
                                                  r["runs"]["nats"]["server_net_cpu_ns"] / 1e3 / N
                                                  for r in rounds)
    # the bytes procmon sent the server, per storm exec (the host's other
    # processes' events included, as in CPU per exec) and per event
    nr = [r["runs"]["nats"] for r in rounds]
    s["nats"]["wire_bytes_per_exec"] = mmm(r.get("wire_bytes") and r["wire_bytes"] / N for r in nr)
    s["nats"]["wire_bytes_per_event"] = mmm(r.get("wire_bytes") and r.get("events") and
                                            r["wire_bytes"] / r["events"] for r in nr)
    s["nats"]["events_per_message"] = mmm(r.get("events") and r.get("messages") and
                                          r["events"] / r["messages"] for r in nr)
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
    log(f"  nats-server CPU per exec {rng(s['nats']['server_cpu_us_per_exec'], '.1f')} us (not procmon's), "
        f"{rng(s['nats']['server_net_cpu_us_per_exec'], '.1f')} us net of its idle housekeeping")
    log(f"  on the wire per exec {rng(s['nats']['wire_bytes_per_exec'], '.0f')} B, per event "
        f"{rng(s['nats']['wire_bytes_per_event'], '.0f')} B; events per message "
        f"{rng(s['nats']['events_per_message'], '.1f')}")
    log(f"  storm wall time nats/file per round {rng(s['wall_ratio'], '.3f')}; delivered "
        f"file {s['file']['delivered']}/{s['file']['happened']}, nats {s['nats']['delivered']}/"
        f"{s['nats']['happened']}")


@contextlib.contextmanager
def procmon_on(label, pm, srv, rec):
    """Around one procmon run against srv: a failure is said and kept in
    rec; procmon's files and the server go whatever happens."""
    try:
        yield
    except BenchError as e:
        problem(f"fleet {label}: {e}")
        rec["error"] = str(e)
        pm.kill()
    finally:
        pm.cleanup_files()
        srv.stop(remove_store=True)


def fleet_build(fl, res):
    """Bytes on the wire per exec for varied events: procmon publishing
    (NATS only, batches, zstd) while make -j builds procmon's sources, once
    per kind of message (event: the previous version's one message per
    event, as the reference), alternating. Per exec = the bytes the server
    read from procmon / the ProcessExec events that reached the stream in
    the meantime (the host's other processes included in both)."""
    log(f"-- bytes on the wire, build workload (make -j{BUILD_JOBS} of procmon), "
        f"{FLEET_BUILD} rounds: message batch against event, order alternating")
    if not BUILD.job and not getattr(BUILD, "env", None):
        BUILD.setup()
    rounds = []
    for r in range(FLEET_BUILD):
        x = {"round": r + 1}
        for kind in (["batch", "event"] if r % 2 == 0 else ["event", "batch"]):
            srv = fl.server().start()
            spool = os.path.join(fl.base, f"spool-build-{fl.k}")
            cfg = fleet_config(fl.base, "build", "none", srv, spool, message=kind)
            pm = Procmon(config=cfg)
            rec = {}
            with procmon_on(f"build/{kind}", pm, srv, rec):
                pm.start()
                se = StreamEvents(srv).update()
                ib0, ex0, ev0, m0 = srv.in_bytes(), se.execs, se.events, se.messages
                cpu0, scpu0 = pm.cpu_ns(), srv.cpu_ns()
                BUILD.prepare()
                rec["seconds"] = BUILD.run()["seconds"]
                BUILD.finish()
                pm.drain()
                rec["cpu_ns"] = pm.cpu_ns() - cpu0
                rec["server_cpu_ns"] = srv.cpu_ns() - scpu0
                rec.update(pm.stop())
                se.update()
                rec["wire_bytes"] = srv.in_bytes() - ib0
                rec["execs"], rec["events"] = se.execs - ex0, se.events - ev0
                rec["messages"] = se.messages - m0
                rec["bytes_per_exec"] = rec["wire_bytes"] / max(rec["execs"], 1)
            x[kind] = rec
        rounds.append(x)
        b, e = x["batch"], x["event"]
        log(f"  round {r + 1}: batch {fmt(b.get('bytes_per_exec'), '.0f')} B/exec "
            f"({b.get('execs', '-')} execs, {b.get('events', '-')} events in {b.get('messages', '-')} msgs, "
            f"server {fmt(b.get('server_cpu_ns') and b.get('execs') and b['server_cpu_ns'] / 1e3 / b['execs'], '.1f')} us/exec) | "
            f"event {fmt(e.get('bytes_per_exec'), '.0f')} B/exec ({e.get('execs', '-')} execs, server "
            f"{fmt(e.get('server_cpu_ns') and e.get('execs') and e['server_cpu_ns'] / 1e3 / e['execs'], '.1f')} us/exec)")
    res["build_rounds"] = rounds
    for kind in ("batch", "event"):
        xs = [r[kind]["bytes_per_exec"] for r in rounds if r[kind].get("bytes_per_exec")]
        res[f"build_{kind}_bytes_per_exec"] = {"median": med(xs), "min": min(xs) if xs else None,
                                               "max": max(xs) if xs else None}


def fleet_fill(fl, res):
    """A spool of FLEET_SPOOL_EVENTS real events: procmon publishing to a
    server that is not running, exec storms until the spool holds that many
    (its batches, compressed: FLEET_SPOOL_MB bounds it)."""
    srv = fl.server("down")  # never started: its port refuses
    spool = os.path.join(fl.base, "spool-fill")
    cfg = fleet_config(fl.base, "fill", "none", srv, spool, spool_mb=FLEET_SPOOL_MB * 2 + 16)
    pm = Procmon(config=cfg)
    t0 = time.monotonic()
    try:
        pm.start()
        execs = 0
        while spool_census(spool)[1] < FLEET_SPOOL_EVENTS:
            w = storms(2, 0, ["-t", "1"])
            execs += sum(w["happened"].values())
            if time.monotonic() - t0 > 900:
                raise BenchError(f"spool still {spool_census(spool)[1]} events after 15 min of storms")
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
    records, events, size = spool_census(spool)
    if events != n["spooled"]:
        raise BenchError(f"filling the spool: procmon reports {n['spooled']} events spooled, "
                         f"its records hold {events}")
    res["spool"] = {"events": events, "records": records, "bytes": size,
                    "execs": execs, "fill_s": round(time.monotonic() - t0, 1)}
    log(f"  spool filled with the server down: {events} events in {records} messages, "
        f"{size / 2**20:.1f} MiB ({execs} execs, {res['spool']['fill_s']} s)")
    orig = spool + ".orig"
    os.rename(spool, orig)
    return orig, events, records


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


def fleet_drain_run(fl, orig, events, records):
    """procmon started on a copy of the filled spool, the server up: the
    time until the stream holds every spooled message (records), its rate
    in messages and in the events they carry."""
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
                    if n >= records:
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
                raise BenchError(f"stream holds {seen['n']} of {records} spooled messages after "
                                 f"{time.monotonic() - pm.t_spawn:.0f} s")
        if seen["done"] is None:
            raise BenchError(f"reading the stream's count: {seen['error']}")
        t = seen["done"]
        first = seen["first"]
        rec["drain_s"] = t - pm.t_spawn  # from procmon's exec: start-up and spool scan included
        rec["ready_s"] = pm.ready_s
        if t > first[0]:  # first ack seen to the last
            rec["rate"] = (records - first[1]) / (t - first[0])
            rec["event_rate"] = rec["rate"] * events / records
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
        f"window 4096) against procmon draining a spool of {FLEET_SPOOL_EVENTS} real events, "
        f"{FLEET_DRAIN_ROUNDS} rounds, order alternating, a fresh server each")
    orig, events, records = fleet_fill(fl, res)
    # also the floor for messages like procmon's: their mean size, a Nats-Msg-Id each
    like = int(res["spool"]["bytes"] / records)
    rounds = []
    for r in range(FLEET_DRAIN_ROUNDS):
        order = ["floor", "procmon", "floor_like"] if r % 2 == 0 else ["floor_like", "procmon", "floor"]
        x = {"round": r + 1, "order": order}
        for m in order:
            try:
                x[m] = (fleet_floor_run(fl) if m == "floor" else
                        fleet_floor_run(fl, max(records, 20000), like, 1) if m == "floor_like" else
                        fleet_drain_run(fl, orig, events, records))
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
            f"{fmt(pr, '.0f')} msgs/s = {fmt(x['procmon'].get('event_rate'), '.0f')} events/s, "
            f"all {events} in {fmt(x['procmon'].get('drain_s'), '.2f')} s "
            f"from its start | procmon/floor {fmt(x.get('fraction'), '.3f')} | floor with {like} B "
            f"and msg ids {fmt(lr, '.0f')} msgs/s, procmon/that {fmt(x.get('fraction_like'), '.3f')}")
    shutil.rmtree(orig, ignore_errors=True)
    res["drain_rounds"] = rounds
    for k, path in (("floor_rate", ("floor", "rate")), ("procmon_rate", ("procmon", "rate")),
                    ("procmon_event_rate", ("procmon", "event_rate")),
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
    ev_b = sp["bytes"] / max(sp["records"], 1)
    if res["floor_rate"]["median"] and res["procmon_rate"]["median"]:
        res["bytes_fraction"] = res["procmon_rate"]["median"] * ev_b / (res["floor_rate"]["median"] * 1024)
        log(f"  in bytes: floor {res['floor_rate']['median'] * 1024 / 2**20:.1f} MiB/s, procmon "
            f"{res['procmon_rate']['median'] * ev_b / 2**20:.1f} MiB/s of spooled records "
            f"({res['bytes_fraction']:.2f} of the floor)")
    log(f"  nats_pub's own CPU per acknowledged message (libnats at best, in a tight loop): "
        f"{fmt(res['floor_cpu_us']['median'], '.1f')} us at 1 KiB, "
        f"{fmt(res['floor_like_cpu_us']['median'], '.1f')} us at {like} B with msg ids")
    log(f"  procmon drains {fmt(res['procmon_event_rate']['median'], '.0f')} events/s "
        f"[{fmt(res['procmon_event_rate']['min'], '.0f')}-{fmt(res['procmon_event_rate']['max'], '.0f')}] "
        f"({sp['events'] / max(sp['records'], 1):.1f} events a message)")
    log(f"  floor {fmt(res['floor_rate']['median'], '.0f')} msgs/s, procmon "
        f"{fmt(res['procmon_rate']['median'], '.0f')} msgs/s ({ev_b:.0f} B/message): "
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
        with procmon_on(f"loss/{case}", pm, srv, rec):
            pm.start()
            if case == "two_storms":
                w = storms(2, N)
            else:
                p = spawn([STORM, str(FLEET_RESTART_N)], stdout=subprocess.PIPE, text=True)
                # kill the server once the storm is well under way: a third
                # of its execs published
                t0 = time.monotonic()
                seen = StreamEvents(srv)
                while (seen.count() or 0) < FLEET_RESTART_N * 4 // 3:  # ~4 events per exec
                    if p.poll() is not None or time.monotonic() - t0 > 120:
                        break
                    time.sleep(0.05)
                rec["count_at_kill"] = seen.count()
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
            se = StreamEvents(srv, w["pids"])
            while True:
                se.update()
                if (sum(len(v) for v in se.storm.values()) >= sum(w["happened"].values())
                        or time.monotonic() - t0 > 60):
                    break
                time.sleep(0.5)
            rec.update(pm.stop())
            se.update()
            got, dups, bad = {q: len(v) for q, v in se.storm.items()}, se.dups, se.bad
            rec["storms"] = [[q, w["happened"][q], got[q]] for q in w["pids"]]
            rec["happened"] = sum(w["happened"].values())
            rec["delivered"] = sum(got.values())
            rec["duplicates"] = dups
            rec["bad_lines"] = bad
        res[case] = rec
        if "delivered" in rec:
            n = rec.get("nats", {})
            log(f"  {case}: storm execs in the stream {rec['delivered']}/{rec['happened']} "
                f"(duplicates {rec['duplicates']}), lost counters {rec['lost']}, "
                f"spooled at exit {n.get('spooled')}, dropped {n.get('dropped')}, "
                f"reconnects {n.get('reconnects')}"
                + (f"; killed {rec['killed_after_s']} s in, with {rec['count_at_kill']} events in the stream"
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
                t = time.time_ns() / 1e6
                for line in np.message_lines({"headers": np.parse_headers(m[1]) if m[1] else {},
                                              "data": m[2]}):
                    got.append((t, line))
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
        if FLEET_BUILD:
            fleet_build(fl, res)
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


