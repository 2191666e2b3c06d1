"""bench/suite: the monitors: procmon, auditd, execsnoop (the package's docstring, __init__.py, has the whole story)."""

from . import common
from .common import *  # noqa: F401,F403


# ---------------------------------------------------------------- monitors

class Monitor:
    name = "?"
    err = None  # its stderr file
    out = None  # its output file: removed after the run unless KEEP

    def __init__(self):
        self.proc = None
        self.notes = []

    def cpu_pids(self):
        return [self.proc.pid]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            rc = self.proc.returncode if self.proc else None
            raise BenchError(f"{self.name} exited early (status {rc}){self.err_tail()}")

    def err_tail(self):
        """The last lines of the monitor's stderr file, for error messages."""
        if not self.err:
            return ""
        try:
            with open(self.err, errors="replace") as f:
                return ": " + " | ".join(f.read().strip().splitlines()[-3:])
        except OSError:
            return ""

    def cpu_ns(self):
        total = 0
        for p in self.cpu_pids():
            v = sched_ns(p)
            if v is None:
                raise BenchError(f"{self.name}: process {p} is gone")
            total += v
        return total

    def mem(self):
        return proc_mem(self.proc.pid)

    def wait_idle(self, min_s=0.0, windows=1, max_s=20.0):
        """Wait until the monitor used < IDLE_NS of CPU in `windows` windows
        in a row and min_s have passed. Returns the seconds until its last
        busy window ended (how long it took to drain). After max_s it gives
        up with a note (other activity on the host keeps a monitor busy):
        what follows is measured all the same."""
        t0 = time.monotonic()
        prev = self.cpu_ns()
        still = 0
        last_busy = 0.0
        while True:
            time.sleep(WINDOW)
            self.check_alive()
            cur = self.cpu_ns()
            el = time.monotonic() - t0
            if cur - prev < IDLE_NS:
                still += 1
            else:
                still, last_busy = 0, el
            prev = cur
            if still >= windows and el >= min_s:
                return last_busy
            if el > max_s:
                note = f"{self.name} still busy after {max_s:.0f} s, going on"
                self.notes.append(note)
                log(f"  note: {note}")
                return last_busy

    def drain(self):
        return self.wait_idle(min_s=SETTLE, windows=2, max_s=60)

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            reap(self.proc)

    def delivered(self, pids):
        return None

    def cleanup_files(self):
        if not KEEP and self.out and os.path.isfile(self.out):
            os.remove(self.out)


class StderrTee(threading.Thread):
    """Copies a child's stderr pipe to a file; notes when the ready line came."""

    READY = re.compile(rb"^procmon: ready([^\w]|$)")

    def __init__(self, pipe, path):
        super().__init__(daemon=True)
        self.pipe, self.path = pipe, path
        self.ready_t = None
        self.ready_line = None
        self.ready = threading.Event()

    def run(self):
        with open(self.path, "ab", buffering=0) as out:
            for line in iter(self.pipe.readline, b""):
                t = time.monotonic()
                out.write(line)
                if self.ready_t is None and self.READY.match(line):
                    self.ready_t, self.ready_line = t, line.decode(errors="replace").strip()
                    self.ready.set()
        self.pipe.close()


class Procmon(Monitor):
    name = "procmon"

    def __init__(self, output=None, fifo=None, config=None):
        """config: a configuration file (its own output), instead of --output."""
        super().__init__()
        self.config = config
        self.out = None if config else (output or os.path.join(DIR, "procmon.jsonl"))
        self.fifo = fifo  # events to this FIFO as procmon's stdout (--output takes files only)
        self.err = os.path.join(DIR, "procmon.err")

    def start(self, idle=True):
        if self.out and os.path.isfile(self.out):
            os.remove(self.out)
        open(self.err, "w").close()  # truncated before it starts: no stale ready line
        t0 = self.t_spawn = time.monotonic()
        if self.fifo:
            stdout = os.open(self.fifo, os.O_WRONLY)  # its reader is already there
            self.proc = spawn([PROCMON_ABS], stdout=stdout, stderr=subprocess.PIPE)
            os.close(stdout)
        else:
            argv = ["--config", self.config] if self.config else ["--output", self.out]
            self.proc = spawn([PROCMON_ABS, *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.tee = StderrTee(self.proc.stderr, self.err)
        self.tee.start()
        while not self.tee.ready.wait(0.05):
            self.check_alive()
            if time.monotonic() - t0 > 30:
                raise BenchError(f"procmon not ready after 30 s{self.err_tail()}")
        self.ready_s = self.tee.ready_t - t0
        if idle:
            self.wait_idle()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = reap(self.proc, 60)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError("procmon did not exit within 60 s of SIGTERM")
        self.tee.join(5)
        with open(self.err, errors="replace") as f:
            text = f.read()
        res = {"status": rc, "lost": None,
               "ongoing_loss_lines": text.count("ongoing: events lost")}
        m = re.search(r"at exit: events lost:([^;\n]*)", text)
        if m:
            res["lost"] = sum(int(x) for x in re.findall(r"\d+", m.group(1)))
            res["at_exit"] = m.group(0)
        m = re.search(r"at exit: nats: (.*)", text)
        if m:  # published=N acknowledged=N ... (the fleet output's counters)
            res["nats"] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
            res["nats_at_exit"] = m.group(0)
        if rc != 0:
            raise BenchError(f"procmon exited with status {rc}{self.err_tail()}")
        if res["lost"] is None:
            raise BenchError("procmon printed no 'at exit: events lost:' line")
        return res

    def delivered(self, pids):
        return count_procmon_execs(self.out, pids)



def count_procmon_execs(path, pids):
    """ProcessExec of "true" with args "bench exec-storm" per parent pid."""
    want = {p: 0 for p in pids}
    bad = 0
    try:
        f = open(path, "rb")
    except OSError:
        return want, 0
    with f:
        for raw in f:
            if b'"ProcessExec"' not in raw:
                continue
            try:
                e = json.loads(raw)
            except ValueError:
                bad += 1
                continue
            if e.get("type") != "ProcessExec":
                continue
            p, par = e.get("process") or {}, e.get("parent") or {}
            pp = par.get("pid")
            if (pp in want and p.get("filename") == "true"
                    and p.get("args") == "bench exec-storm"):
                want[pp] += 1
    return want, bad


def auditctl(*args, check=True):
    common.AUDIT_TOUCHED = True  # cleanup() turns auditing off again
    return run(["auditctl", *args], check=check).stdout


def audit_status():
    out = {}
    for line in auditctl("-s").splitlines():
        k, _, v = line.partition(" ")
        out[k] = v.strip()
    return out


PRIV_SYSCALLS = ["setuid", "setreuid", "setresuid", "setfsuid", "setgid", "setregid",
                 "setresgid", "setfsgid", "capset", "prctl", "unshare", "ptrace",
                 "process_vm_readv", "process_vm_writev", "pidfd_getfd"]


class Auditd(Monitor):
    name = "auditd"
    accepted = None  # privilege syscalls auditctl accepts, probed once
    rejected = []
    kauditd = None

    def __init__(self):
        super().__init__()
        self.log = self.out = os.path.join(AUDIT_DIR, "audit.log")
        self.err = os.path.join(AUDIT_DIR, "auditd.err")

    @classmethod
    def setup(cls):
        os.makedirs(os.path.join(AUDIT_DIR, "plugins.d"), exist_ok=True)
        os.chmod(AUDIT_DIR, 0o750)
        conf = os.path.join(AUDIT_DIR, "auditd.conf")
        with open(conf, "w") as f:
            f.write(f"""# written by bench/suite: a private auditd for the benchmark
local_events = yes
write_logs = yes
log_file = {os.path.join(AUDIT_DIR, "audit.log")}
log_group = root
log_format = RAW
flush = INCREMENTAL_ASYNC
freq = 50
num_logs = 2
max_log_file = 100000
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
use_libwrap = no
priority_boost = 4
name_format = NONE
plugin_dir = {os.path.join(AUDIT_DIR, "plugins.d")}
""")
        os.chown(conf, 0, 0)
        os.chmod(conf, 0o640)
        for f in os.listdir(os.path.join(AUDIT_DIR, "plugins.d")):
            os.remove(os.path.join(AUDIT_DIR, "plugins.d", f))
        cls.kauditd = find_comm("kauditd")

    def cpu_pids(self):
        return [self.proc.pid] + ([self.kauditd] if self.kauditd else [])

    def start(self):
        st = audit_status()
        if st.get("pid", "0") != "0":
            raise BenchError(f"another audit daemon (pid {st['pid']}) is registered")
        for f in (self.log, self.err):
            if os.path.exists(f):
                os.remove(f)
        errf = open(self.err, "w")
        self.proc = spawn(["auditd", "-n", "-c", AUDIT_DIR], stdout=errf, stderr=errf)
        errf.close()
        t0 = time.monotonic()
        while audit_status().get("pid") != str(self.proc.pid):
            self.check_alive()
            if time.monotonic() - t0 > 10:
                raise BenchError("auditd did not register within 10 s")
            time.sleep(0.05)
        auditctl("-D")
        auditctl("-b", "8192")
        auditctl("-e", "1")
        if Auditd.accepted is None:
            Auditd.accepted, Auditd.rejected = [], []
            for s in PRIV_SYSCALLS:
                r = run(["auditctl", "-a", "always,exit", "-F", "arch=b64", "-S", s, "-k", "probe"],
                        check=False)
                (Auditd.accepted if r.returncode == 0 else Auditd.rejected).append(s)
            auditctl("-D")
            if Auditd.rejected:
                log(f"  note: auditctl rejects {', '.join(Auditd.rejected)}: left out of the rules")
        auditctl("-a", "always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-k", "exec")
        if Auditd.accepted:
            auditctl("-a", "always,exit", "-F", "arch=b64", "-S", ",".join(Auditd.accepted),
                     "-k", "priv")
        self.lost0 = int(audit_status().get("lost", 0))
        self.wait_idle()

    def stop(self):
        lost1 = int(audit_status().get("lost", 0))
        auditctl("-D")
        auditctl("-e", "0")
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = reap(self.proc, 60)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError("auditd did not exit within 60 s of SIGTERM")
        if rc != 0:
            raise BenchError(f"auditd exited with status {rc}{self.err_tail()}")
        return {"status": rc, "lost": lost1 - self.lost0}

    def delivered(self, pids):
        want = {p: 0 for p in pids}
        rx = re.compile(r"^type=SYSCALL .* syscall=59 success=yes .* ppid=(\d+) pid=\d+ .*"
                        r' exe="(/usr)?/bin/true"')
        with open(self.log, errors="replace") as f:
            for line in f:
                if line.startswith("type=SYSCALL"):
                    m = rx.match(line)
                    if m and int(m.group(1)) in want:
                        want[int(m.group(1))] += 1
        return want, 0



class Execsnoop(Monitor):
    name = "execsnoop"

    def __init__(self):
        super().__init__()
        self.out = os.path.join(DIR, "execsnoop.txt")
        self.err = os.path.join(DIR, "execsnoop.err")

    def fd_kinds(self):
        kinds = {}
        d = f"/proc/{self.proc.pid}/fd"
        try:
            for fd in os.listdir(d):
                try:
                    k = os.readlink(f"{d}/{fd}")
                except OSError:
                    continue
                kinds[k] = kinds.get(k, 0) + 1
        except OSError:
            pass
        return kinds

    def start(self):
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = spawn([EXECSNOOP], stdout=out, stderr=err)
        # Attached once it holds BPF links; its per-CPU perf buffers
        # ([perf_event] fds beyond one per link) are set up just after.
        t0 = time.monotonic()
        ncpu = possible_cpus()
        while True:
            self.check_alive()
            k = self.fd_kinds()
            links = k.get("anon_inode:bpf_link", 0) + k.get("anon_inode:bpf-link", 0)
            if links and k.get("anon_inode:[perf_event]", 0) >= links + ncpu:
                break
            if time.monotonic() - t0 > 30:
                raise BenchError(f"execsnoop not attached after 30 s (fds: {k}){self.err_tail()}")
            time.sleep(0.02)
        self.wait_idle()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # SIGINT: a clean exit flushes stdout
        try:
            rc = reap(self.proc, 60)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError("execsnoop did not exit within 60 s of SIGINT")
        with open(self.err, errors="replace") as f:
            lost = sum(int(n) for n in re.findall(r"Lost (\d+) events on CPU", f.read()))
        if rc != 0:
            raise BenchError(f"execsnoop exited with status {rc}{self.err_tail()}")
        return {"status": rc, "lost": lost}

    def delivered(self, pids):
        want = {str(p): 0 for p in pids}
        with open(self.out, errors="replace") as f:
            for line in f:
                parts = line.split(None, 4)
                if len(parts) >= 3 and parts[0] == "true" and parts[2] in want:
                    want[parts[2]] += 1
        return {int(k): v for k, v in want.items()}, 0



MONITOR_CLASSES = {"procmon": Procmon, "auditd": Auditd, "execsnoop": Execsnoop}


