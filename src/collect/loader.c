// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* vasprintf, memmem, memrchr */
#include "collect/loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "collect/filter.h"
#include "log.h"
#include "base/caps.h"
#include "syscalls.skel.h"
#include "process.skel.h"

struct pm_loader {
	struct process_bpf *process;
	struct syscalls_bpf *syscalls; /* NULL when no block needs a syscall program */
	bool binary_filter; /* process_filter has names, paths or prefixes */
	bool note_at_enter; /* the sys_enter programs are loaded */
	int ncpus;
};

/*
 * The objects' switches (const volatile bools in .rodata) that a block
 * lists among its needs, set from whether one of those blocks is on, by
 * their names in the object's BTF: a new switch is one row's need.
 */
static void set_switches(struct bpf_object *obj, const struct pm_config *cfg)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *v;
	const struct btf_type *sec;
	struct bpf_map *map;
	char *data = NULL;
	size_t size = 0;
	int id;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t n = strlen(name);

		if (bpf_map__is_internal(map) && n >= 7 && !strcmp(name + n - 7, ".rodata"))
			data = (char *)bpf_map__initial_value(map, &size);
	}
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!data || id < 0)
		return;
	sec = btf__type_by_id(btf, id);
	v = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, v++) {
		const char *name = btf__name_by_offset(btf, btf__type_by_id(btf, v->type)->name_off);
		int want = pm_config_needs(cfg, name);

		if (want >= 0 && v->size == sizeof(bool) && v->offset < size)
			data[v->offset] = want;
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *line = NULL;
	int n;

	if (level == LIBBPF_DEBUG && !pm_log_verbose)
		return 0;
	/* whole: a verifier log is one message of many lines */
	n = vasprintf(&line, fmt, ap);
	if (n < 0)
		return 0;
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	/* libbpf's own messages already start with "libbpf: " */
	if (level == LIBBPF_WARN)
		pm_log_warn("%s", line);
	else
		pm_log_debug("%s", line);
	free(line);
	return 0;
}

/* Bits of the effective capability set that procmon needs and lacks. */
static uint64_t missing_caps(void)
{
	static const int needed[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_PTRACE };
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	uint64_t eff, missing = 0;

	if (syscall(SYS_capget, &hdr, data))
		return ~0ull;
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!(eff >> needed[i] & 1))
			missing |= 1ull << needed[i];
	return missing;
}

/*
 * Syscall tracepoints attach through tracefs (their ids are there). A
 * fresh machine may not have it mounted: mount it where libbpf looks.
 */
static int find_tracefs(const char **dir)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	struct statfs st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!statfs(dirs[i], &st) && st.f_type == TRACEFS_MAGIC) {
			*dir = dirs[i];
			return 0;
		}
	*dir = dirs[0];
	if (mount("tracefs", dirs[0], "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return -errno;
	pm_log_debug("mounted tracefs on %s", dirs[0]);
	return 0;
}

static int ensure_tracefs(void)
{
	const char *dir;
	int err = find_tracefs(&dir);

	if (err)
		pm_log_error("mounting tracefs on %s: %s", dir, strerror(-err));
	return err;
}

/*
 * The kernel procmon needs: the newest feature below decides it. Versions
 * from the kernel's history (README "Requirements"); only 6.18 is tested.
 */
#define PM_KERNEL_WORKS "Linux 6.13 or later, with BTF (procmon is tested on 6.18)"

/* What the BPF objects name in the kernel's BTF: resolved at load time,
 * so a missing one fails the load. */
static const struct kernel_need {
	const char *name;
	int kind; /* BTF_KIND_TYPEDEF: a BTF tracepoint; BTF_KIND_FUNC: a kfunc */
	const char *what;
} kernel_needs[] = {
	{ "btf_trace_sched_process_exec", BTF_KIND_TYPEDEF, "the tracepoint sched_process_exec" },
	{ "btf_trace_sched_process_fork", BTF_KIND_TYPEDEF, "the tracepoint sched_process_fork" },
	{ "btf_trace_sched_process_exit", BTF_KIND_TYPEDEF, "the tracepoint sched_process_exit" },
	{ "bpf_rdonly_cast", BTF_KIND_FUNC, "the BPF kfunc bpf_rdonly_cast (Linux 6.2)" },
	{ "bpf_task_from_pid", BTF_KIND_FUNC, "the BPF kfunc bpf_task_from_pid (Linux 6.2)" },
	{ "bpf_task_release", BTF_KIND_FUNC, "the BPF kfunc bpf_task_release (Linux 6.2)" },
	{ "bpf_task_from_vpid", BTF_KIND_FUNC, "the BPF kfunc bpf_task_from_vpid (Linux 6.13)" },
};

/* What the kernel lacks of what procmon's BPF uses, or NULL. */
static const char *missing_kernel_feature(char *buf, size_t len)
{
	struct btf *btf;
	const char *tracefs, *missing = NULL;
	struct stat st;
	int err;

	btf = btf__parse("/sys/kernel/btf/vmlinux", NULL);
	if (!btf) {
		snprintf(buf, len, "readable BTF (/sys/kernel/btf/vmlinux: %s)", strerror(errno));
		return buf;
	}
	for (size_t i = 0; !missing && i < sizeof(kernel_needs) / sizeof(kernel_needs[0]); i++)
		if (btf__find_by_name_kind(btf, kernel_needs[i].name, kernel_needs[i].kind) < 0)
			missing = kernel_needs[i].what;
	btf__free(btf);
	if (missing)
		return missing;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1)
		return "the BPF ring buffer map (Linux 5.8)";
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) != 1)
		return "the BPF task storage map (Linux 5.11)";
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, NULL) != 1)
		return "the BPF helper bpf_loop (Linux 5.17)";
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_find_vma, NULL) != 1)
		return "the BPF helper bpf_find_vma (Linux 5.17)";
	/* the per-syscall tracepoints (CONFIG_FTRACE_SYSCALLS) */
	err = find_tracefs(&tracefs);
	if (err) {
		snprintf(buf, len, "tracefs (mounting it on %s: %s)", tracefs, strerror(-err));
		return buf;
	}
	snprintf(buf, len, "%s/events/syscalls/sys_exit_prctl", tracefs);
	if (stat(buf, &st)) {
		snprintf(buf, len, "the syscall tracepoints (%s/events/syscalls: %s)", tracefs,
			 strerror(errno));
		return buf;
	}
	return NULL;
}

int pm_loader_check_environment(char *msg, size_t len)
{
	uint64_t missing = missing_caps();
	libbpf_print_fn_t old_print;
	struct utsname uts = { 0 };
	const char *lacks;
	char what[512];

	if (missing) {
		size_t n = snprintf(msg, len, "procmon needs root; missing capabilities:");

		for (unsigned bit = 0; bit < 64 && n < len; bit++)
			if (missing >> bit & 1)
				n += snprintf(msg + n, len - n, " %s", pm_cap_name(bit) ?: "?");
		return -EPERM;
	}
	uname(&uts);
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(msg, len,
			 "this kernel (%s) has no BTF (/sys/kernel/btf/vmlinux: %s): procmon needs "
			 PM_KERNEL_WORKS, uts.release, strerror(errno));
		return -ENOENT;
	}
	/* the probes' failures are the answer, not messages of their own */
	old_print = libbpf_set_print(NULL);
	lacks = missing_kernel_feature(what, sizeof(what));
	libbpf_set_print(old_print);
	if (lacks) {
		snprintf(msg, len, "this kernel (%s) lacks %s: procmon needs " PM_KERNEL_WORKS,
			 uts.release, lacks);
		return -ENOTSUP;
	}
	return 0;
}

static int add_filter_id(__u32 list, __u32 id, void *arg)
{
	struct pm_id_key key = { .list = list, .id = id };
	__u8 one = 1;

	return bpf_map__update_elem(arg, &key, sizeof(key), &one, sizeof(one), BPF_ANY);
}

/* The id lists and binary patterns, into the maps the programs read. */
static int fill_filter_maps(struct pm_loader *l, const struct pm_config *cfg)
{
	static struct pm_filter_pattern patterns[PM_FILTER_PATTERNS_MAX];
	int n = pm_filter_patterns_from_config(cfg, patterns, PM_FILTER_PATTERNS_MAX);
	int err;

	if (n < 0) /* the configuration parser refuses what cannot be encoded */
		return -EINVAL;
	for (__u32 i = 0; i < (__u32)n; i++) {
		err = bpf_map__update_elem(l->process->maps.pm_filter_patterns, &i, sizeof(i),
					   &patterns[i], sizeof(patterns[i]), BPF_ANY);
		if (err)
			return err;
	}
	return pm_filter_for_each_id(cfg, add_filter_id, l->process->maps.pm_filter_ids);
}

/*
 * The address /proc/kallsyms gives the kernel symbol `name`, or 0 (also
 * when kptr_restrict shows every address as 0). Read in large chunks and
 * searched as text: the file has over 100,000 lines, and a line-by-line
 * sscanf of it was a noticeable part of procmon's start-up.
 */
static uint64_t kernel_symbol_addr(const char *name)
{
	enum { CHUNK = 1 << 18 };
	char needle[128], *buf, *hit = NULL;
	size_t have = 0, nlen;
	uint64_t addr = 0;
	int fd;

	nlen = (size_t)snprintf(needle, sizeof(needle), " %s\n", name);
	if (nlen >= sizeof(needle) || !(buf = malloc(CHUNK + 1)))
		return 0;
	fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && !hit) {
		ssize_t n = read(fd, buf + have, CHUNK - have);
		char *line_end;

		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		hit = memmem(buf, have, needle, nlen);
		if (hit)
			break;
		/* keep the last partial line: the name may straddle two reads */
		line_end = memrchr(buf, '\n', have);
		if (line_end) {
			have -= (size_t)(line_end + 1 - buf);
			memmove(buf, line_end + 1, have);
		} else {
			have = 0;
		}
	}
	if (hit) {
		/* "ffffffff817a4b80 t mem_open": the address starts the line, and
		 * the type letter sits between it and the name */
		char *line = hit;

		while (line > buf && line[-1] != '\n')
			line--;
		if (hit - line > 2 && hit[-2] == ' ')
			addr = strtoull(line, NULL, 16);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return addr;
}

/* The per-syscall programs, sharing every map of the process object. */
static int open_syscalls(struct pm_loader *l, const struct pm_config *cfg,
			  const struct pm_filter_conf *filter)
{
	/*
	 * Only a filter on the state before a call needs the sys_enter
	 * programs; without them the kernel does not even call its sys_enter
	 * probe for the syscalls procmon does not watch.
	 */
	bool note_at_enter = (filter->process & (PM_PF_UID | PM_PF_EUID)) ||
			     (filter->cred[PM_HOOK_USER_NS].flags & PM_CF_CAPS);
	struct bpf_program *prog;
	struct bpf_map *map;
	bool any = false, want_proc_mem;
	int err;

	l->syscalls = syscalls_bpf__open();
	if (!l->syscalls)
		return -errno;
	bpf_object__for_each_program(prog, l->syscalls->obj) {
		const char *name = bpf_program__name(prog);
		int wanted = pm_config_needs(cfg, name);
		bool enter = !strncmp(name, "pm_enter_", strlen("pm_enter_"));

		if (wanted < 0) {
			pm_log_error("BPF program %s belongs to no configuration block", name);
			return -EINVAL;
		}
		bpf_program__set_autoload(prog, wanted && (note_at_enter || !enter));
		any |= wanted;
	}
	if (!any) {
		syscalls_bpf__destroy(l->syscalls);
		l->syscalls = NULL;
		return 0;
	}
	err = ensure_tracefs();
	if (err)
		return err;
	/* what recognises /proc/PID/mem: say so when it is missing */
	want_proc_mem = pm_config_needs(cfg, "pm_exit_ptrace") == 1;
	if (want_proc_mem) {
		l->syscalls->rodata->pm_mem_open = kernel_symbol_addr("mem_open");
		if (!l->syscalls->rodata->pm_mem_open)
			pm_log_warn("this kernel exports no mem_open symbol: opening "
				    "/proc/PID/mem will not be reported as PtraceAccessCheck");
	}
	bpf_object__for_each_map(map, l->syscalls->obj) {
		struct bpf_map *shared;

		if (bpf_map__is_internal(map))
			continue;
		shared = bpf_object__find_map_by_name(l->process->obj, bpf_map__name(map));
		if (shared && (err = bpf_map__reuse_fd(map, bpf_map__fd(shared))))
			return err;
	}
	l->syscalls->rodata->pm_wakeup_bytes = l->process->rodata->pm_wakeup_bytes;
	l->syscalls->rodata->pm_repeat_max = l->process->rodata->pm_repeat_max;
	l->syscalls->rodata->pm_repeat_interval_ns = l->process->rodata->pm_repeat_interval_ns;
	l->syscalls->rodata->pm_ring_bytes = l->process->rodata->pm_ring_bytes;
	l->syscalls->rodata->pm_ring_reserve = l->process->rodata->pm_ring_reserve;
	l->syscalls->rodata->pm_cgroup_v1 = l->process->rodata->pm_cgroup_v1;
	l->syscalls->bss->pm_filter = *filter;
	l->syscalls->rodata->pm_note_at_enter = note_at_enter;
	l->note_at_enter = note_at_enter;
	l->syscalls->rodata->pm_want_proc_mem = want_proc_mem;
	set_switches(l->syscalls->obj, cfg);
	return syscalls_bpf__load(l->syscalls);
}

int pm_loader_open(struct pm_loader **out, const struct pm_config *cfg,
		   enum pm_cgroup_v1 cgroup_v1)
{
	struct pm_loader *l = calloc(1, sizeof(*l));
	struct pm_filter_conf filter;
	int err;

	if (!l)
		return -ENOMEM;
	libbpf_set_print(libbpf_print);
	l->ncpus = libbpf_num_possible_cpus();
	if (l->ncpus <= 0) {
		err = l->ncpus ? l->ncpus : -EINVAL;
		goto fail;
	}
	l->process = process_bpf__open();
	if (!l->process) {
		err = -errno;
		pm_log_error("failed to open BPF object: %s", strerror(-err));
		goto fail;
	}
	/* one scratch slot per CPU; see pm_scratch */
	err = bpf_map__set_max_entries(l->process->maps.pm_scratch, l->ncpus);
	if (!err)
		err = bpf_map__set_max_entries(l->process->maps.pm_events,
					       cfg->ring_buffer_kb * 1024u);
	if (err) {
		pm_log_error("failed to size BPF maps: %s", strerror(-err));
		goto fail;
	}
	/* wake the reader once an eighth of the ring buffer is waiting */
	l->process->rodata->pm_wakeup_bytes = cfg->ring_buffer_kb * 1024ull / 8;
	l->process->rodata->pm_repeat_max = cfg->repeat_events;
	l->process->rodata->pm_repeat_interval_ns = cfg->repeat_interval_ms * 1000000ull;
	/* a quarter of the ring buffer is kept for clone, exec and exit */
	l->process->rodata->pm_ring_bytes = cfg->ring_buffer_kb * 1024ull;
	l->process->rodata->pm_ring_reserve = cfg->ring_buffer_kb * 1024ull / 4;
	pm_filter_conf_from_config(cfg, &filter);
	l->process->bss->pm_filter = filter;
	/* v1 or hybrid hosts: containers are named in v1 hierarchies (container.h) */
	l->process->rodata->pm_cgroup_v1 = cgroup_v1;
	set_switches(l->process->obj, cfg);
	l->process->rodata->pm_want_pins = cfg->hash;
	l->binary_filter = filter.process & PM_PF_BINARY;
	/* a self-deleting executable: what the hasher needs to accept its
	 * unlink; nothing else uses these */
	{
		struct bpf_program *unlink_progs[] = {
			l->process->progs.pm_exit_unlink, l->process->progs.pm_exit_unlinkat,
			l->process->progs.pm_exit_rename, l->process->progs.pm_exit_renameat,
			l->process->progs.pm_exit_renameat2,
		};

		for (size_t i = 0; i < sizeof(unlink_progs) / sizeof(unlink_progs[0]); i++)
			bpf_program__set_autoload(unlink_progs[i], cfg->hash);
	}
	err = process_bpf__load(l->process);
	if (err) {
		pm_log_error("failed to load BPF object: %s", strerror(-err));
		goto fail;
	}
	err = fill_filter_maps(l, cfg);
	if (err) {
		pm_log_error("failed to set up the filters: %s", strerror(-err));
		goto fail;
	}
	err = open_syscalls(l, cfg, &filter);
	if (err) {
		pm_log_error("failed to load the syscall BPF programs: %s",
			     strerror(-err));
		goto fail;
	}
	/* the unlink hooks are syscall tracepoints too */
	err = cfg->hash ? ensure_tracefs() : 0;
	if (err) {
		pm_log_error("failed to mount tracefs: %s", strerror(-err));
		goto fail;
	}
	/* every map is filled before the first program runs */
	err = process_bpf__attach(l->process);
	if (!err && l->syscalls)
		err = syscalls_bpf__attach(l->syscalls);
	if (err) {
		pm_log_error("failed to attach BPF programs: %s", strerror(-err));
		goto fail;
	}
	*out = l;
	return 0;
fail:
	pm_loader_close(l);
	return err;
}

/* The id keys of a configuration, collected by pm_filter_for_each_id. */
struct id_set {
	struct pm_id_key keys[4096]; /* pm_filter_ids' max_entries */
	size_t n;
};

static int collect_id(__u32 list, __u32 id, void *arg)
{
	struct id_set *set = arg;

	if (set->n == sizeof(set->keys) / sizeof(set->keys[0]))
		return -E2BIG;
	set->keys[set->n++] = (struct pm_id_key){ .list = list, .id = id };
	return 0;
}

static bool id_in(const struct id_set *set, const struct pm_id_key *key)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->keys[i].list == key->list && set->keys[i].id == key->id)
			return true;
	return false;
}

int pm_loader_update_filters(struct pm_loader *l, const struct pm_config *cfg, char *why,
			     size_t len)
{
	static struct id_set set;
	struct pm_filter_conf filter;
	struct pm_id_key key, next;
	struct bpf_map *ids = l->process->maps.pm_filter_ids;
	bool more;
	int err;

	pm_filter_conf_from_config(cfg, &filter);
	/* a filter on the state before a call needs the sys_enter programs */
	if (l->syscalls && !l->note_at_enter &&
	    ((filter.process & (PM_PF_UID | PM_PF_EUID)) ||
	     (filter.cred[PM_HOOK_USER_NS].flags & PM_CF_CAPS))) {
		snprintf(why, len, "%s%s%s%s%s",
			 filter.process & PM_PF_UID ? "process_filter.uid" : "",
			 (filter.process & PM_PF_UID) && (filter.process & PM_PF_EUID) ? ", " : "",
			 filter.process & PM_PF_EUID ? "process_filter.euid" : "",
			 (filter.process & (PM_PF_UID | PM_PF_EUID)) &&
					 (filter.cred[PM_HOOK_USER_NS].flags & PM_CF_CAPS)
				 ? ", "
				 : "",
			 filter.cred[PM_HOOK_USER_NS].flags & PM_CF_CAPS
				 ? "create_user_ns.cred_filter.cap_filter"
				 : "");
		return -EBUSY;
	}
	set.n = 0;
	err = pm_filter_for_each_id(cfg, collect_id, &set);
	/* the new ids and patterns first, then the flags that use them, then
	 * what only the old flags used */
	if (!err)
		err = fill_filter_maps(l, cfg);
	if (err) {
		snprintf(why, len, "updating the filter maps: %s", strerror(-err));
		return err;
	}
	l->process->bss->pm_filter = filter;
	if (l->syscalls)
		l->syscalls->bss->pm_filter = filter;
	more = !bpf_map__get_next_key(ids, NULL, &key, sizeof(key));
	while (more) {
		more = !bpf_map__get_next_key(ids, &key, &next, sizeof(next));
		if (!id_in(&set, &key))
			bpf_map__delete_elem(ids, &key, sizeof(key), 0);
		key = next;
	}
	l->binary_filter = filter.process & PM_PF_BINARY;
	return 0;
}

int pm_loader_ringbuf_fd(const struct pm_loader *l)
{
	return bpf_map__fd(l->process->maps.pm_events);
}

int pm_loader_pins_fd(const struct pm_loader *l)
{
	return bpf_map__fd(l->process->maps.pm_pins);
}

int pm_loader_proc_info_fd(const struct pm_loader *l)
{
	return bpf_map__fd(l->process->maps.pm_proc_info);
}

int pm_loader_known_files_fd(const struct pm_loader *l)
{
	return bpf_map__fd(l->process->maps.pm_known_files);
}

int pm_loader_read_drops(const struct pm_loader *l, uint64_t drops[PM_DROP_MAX])
{
	int fd = bpf_map__fd(l->process->maps.pm_drops);
	uint64_t *percpu = calloc(l->ncpus, sizeof(*percpu));

	if (!percpu)
		return -ENOMEM;
	for (uint32_t cat = 0; cat < PM_DROP_MAX; cat++) {
		drops[cat] = 0;
		if (bpf_map_lookup_elem(fd, &cat, percpu))
			continue;
		for (int cpu = 0; cpu < l->ncpus; cpu++)
			drops[cat] += percpu[cpu];
	}
	free(percpu);
	return 0;
}

bool pm_loader_binary_filter(const struct pm_loader *l)
{
	return l->binary_filter;
}

int pm_loader_seed_process(const struct pm_loader *l, uint32_t pid, bool binary_match,
			   bool replace)
{
	struct pm_proc_info info = { .binary_match = binary_match };
	int pidfd = syscall(SYS_pidfd_open, pid, 0), err;

	if (pidfd < 0)
		return -errno;
	/* NOEXIST: an exec since the /proc scan has the fresher verdict */
	err = bpf_map__update_elem(l->process->maps.pm_proc_info, &pidfd, sizeof(pidfd), &info,
				   sizeof(info), replace ? BPF_ANY : BPF_NOEXIST);
	close(pidfd);
	return err == -EEXIST ? 0 : err;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/*
 * Detaching a syscall tracepoint waits for an RCU tasks-trace grace
 * period (70-80 ms each here): one link after another, stopping took 2 s
 * with every privilege hook on. Detached in parallel, they share grace
 * periods.
 */
static void detach_in_parallel(struct bpf_object_skeleton *s)
{
	pthread_t threads[64];
	int n = 0;

	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_link **link = s->progs[i].link;

		if (!*link)
			continue;
		if (n == 64 || pthread_create(&threads[n], NULL, destroy_link, *link))
			bpf_link__destroy(*link);
		else
			n++;
		*link = NULL;
	}
	while (n--)
		pthread_join(threads[n], NULL);
}

void pm_loader_detach(struct pm_loader *l)
{
	if (l->syscalls)
		detach_in_parallel(l->syscalls->skeleton);
	process_bpf__detach(l->process);
}

void pm_loader_close(struct pm_loader *l)
{
	if (!l)
		return;
	syscalls_bpf__destroy(l->syscalls);
	process_bpf__destroy(l->process);
	free(l);
}
