// SPDX-License-Identifier: GPL-2.0
#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "names.h"
#include "process.skel.h"

struct pm_loader {
	struct process_bpf *process;
	int ncpus;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level == LIBBPF_DEBUG && !pm_log_verbose)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	/* libbpf's own messages already start with "libbpf: " */
	if (level == LIBBPF_WARN)
		pm_log_warn("%s", line);
	else
		pm_log_debug("%s", line);
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

int pm_loader_check_environment(char *msg, size_t len)
{
	uint64_t missing = missing_caps();

	if (missing) {
		size_t n = snprintf(msg, len, "procmon needs root; missing capabilities:");

		for (unsigned bit = 0; bit < 64 && n < len; bit++)
			if (missing >> bit & 1)
				n += snprintf(msg + n, len - n, " %s", pm_cap_name(bit) ?: "?");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(msg, len, "procmon needs a kernel with BTF: /sys/kernel/btf/vmlinux: %s",
			 strerror(errno));
		return -ENOENT;
	}
	return 0;
}

int pm_loader_open(struct pm_loader **out, const struct pm_config *cfg)
{
	struct pm_loader *l = calloc(1, sizeof(*l));
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
	err = process_bpf__load(l->process);
	if (err) {
		pm_log_error("failed to load BPF object: %s", strerror(-err));
		goto fail;
	}
	err = process_bpf__attach(l->process);
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

int pm_loader_ringbuf_fd(const struct pm_loader *l)
{
	return bpf_map__fd(l->process->maps.pm_events);
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

void pm_loader_detach(struct pm_loader *l)
{
	process_bpf__detach(l->process);
}

void pm_loader_close(struct pm_loader *l)
{
	if (!l)
		return;
	process_bpf__destroy(l->process);
	free(l);
}
