"""procmon benchmark suite: procmon side by side with auditd and execsnoop.

    make bench                                 (builds build/procmon first)
    ROUNDS=3 make bench
    PROCMON=/path/to/procmon /usr/bin/python3 bench/suite

Needs root. Installs what is missing of auditd and libbpf-tools (execsnoop)
with apt-get, mounts tracefs if it is not mounted, compiles its helpers
(bench/*.c) with gcc into build/bench/, and writes build/bench/results.json.
docs/performance.md says what each figure means and how it is taken.

Workloads, each timed with every monitor mode (off, procmon, auditd,
execsnoop) once per round, in an order that rotates from round to round:
  exec      one exec storm: N x fork + execve(/bin/true bench exec-storm) + wait
  exec2     two exec storms in parallel (time: the slower)
  getppid   GETPPID_N raw getppid() calls, a syscall no monitor watches
  openmap   OPENMAP_N x (open + mmap + munmap + close of OPENMAP_PATH,
            dlopen + dlclose of OPENMAP_LIB)
  build     make -j BUILD_JOBS of procmon's own sources (git HEAD) into a
            fresh directory
Every timed run starts its monitor, lets it see one untimed pass of the
workload (a monitor runs for days: it has seen the job's programs before;
procmon has hashed them), then times a second pass. The first pass's time
is kept too ("1st-pass": its ratio, cold caches included).
Then procmon-only phases: ready time with IDLE_PROCS extra processes,
memory over MEM_LIFETIMES process lifetimes, a SOAK_S-second two-storm
no-loss soak, event latency through a FIFO during an LAT_N-exec storm, and
the fleet output (NATS JetStream, nats-server on loopback ports): CPU per
exec and storm time with NATS only against file only, nats-server's CPU
and the bytes procmon sends it per exec (the exec storm, and the build
workload with batches against one event a message), procmon draining a
spool against a minimal libnats publisher (bench/nats_pub.c), and no loss
with two storms and with the server killed and restarted mid-storm.

Knobs (environment variables; empty means the default):
  PROCMON        build/procmon   the procmon binary measured
  ROUNDS         7        rounds of exec, exec2, getppid, openmap
  BUILD_ROUNDS   5        rounds of build
  N              3000     execs per storm (exec, exec2)
  GETPPID_N      4000000  getppid calls per run
  OPENMAP_N      15000    open/mmap/dlopen iterations per run
  OPENMAP_PATH   /etc/hostname   file opened and mapped
  OPENMAP_LIB    libz.so.1       library dlopen'ed (the loop does not link it)
  BUILD_JOBS     2        make -j for the build workload
  WORKLOADS      exec,exec2,getppid,openmap,build   which workloads, in order
  MONITORS       procmon,auditd,execsnoop           which monitors besides off
  READY_RUNS     3        ready-time runs (0 skips the phase)
  IDLE_PROCS     2000     extra idle processes during the ready-time runs
  MEM_LIFETIMES  100000   process lifetimes of the memory soak (0 skips it)
  MEM_STEP       10000    lifetimes between two RSS samples
  MEM_PAR        2        parallel fork loops in the memory soak
  SOAK_S         30       seconds of the two-storm no-loss soak (0 skips it)
  LAT_N          3000     execs of the latency storm (0 skips the phase)
  SETTLE         1.2      least seconds between a workload's end and stopping
                          its monitor (events may take 1 s to be written)
  KEEP           0        1 keeps the monitors' output files in build/bench/
  FLEET          1        0 skips the fleet output (NATS JetStream) phase
  FLEET_ROUNDS   5        rounds of the N-exec storm, procmon NATS only vs file only
  FLEET_DRAIN_ROUNDS 3    rounds of nats_pub vs procmon draining the spool
  FLEET_SPOOL_EVENTS 300000 real events spooled with the server down, then drained
  FLEET_SPOOL_MB 100      MiB the spool may hold (its bound) while it is filled
  FLEET_BUILD    1        rounds of the build workload's bytes on the wire (batch vs event; 0 skips)
  FLEET_PUB_N    200000   1 KiB messages nats_pub publishes per round
  FLEET_RESTART_N 6000    execs of the storm during which the server is restarted

Exit status: 0 when every measurement was taken (targets met or not), 1
when something could not be measured, 2 for bad knobs, 130 on Ctrl-C.
"""
