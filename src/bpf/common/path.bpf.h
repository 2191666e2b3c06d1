/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Absolute path of a file without bpf_d_path (no fentry/LSM here): walk
 * dentry->d_parent up to the task's root, crossing mount points through
 * struct mount, as prepend_path() in fs/d_path.c does. Bounded by
 * PM_PATH_DEPTH dentries and PM_PATH_MAX bytes; a walk cut short is
 * flagged, never passed off as a complete path.
 *
 * One step per bpf_loop() callback: as a plain bounded loop the verifier
 * explores every iteration's branches and gives up (E2BIG) long before
 * PM_PATH_DEPTH; the callback is verified once.
 */
#ifndef PROCMON_PATH_BPF_H
#define PROCMON_PATH_BPF_H

/* Keep clang from folding a bounds check the verifier needs to see. */
#define pm_barrier_var(var) asm volatile("" : "+r"(var))

struct pm_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	char *out;   /* the path region: PM_PATH_MAX + PM_NAME_MAX bytes */
	bool comps;  /* record where components start (exec scratch only) */
	__u32 off;   /* bytes written into the path region */
	__u32 ncomps; /* components written */
	__u32 flags; /* PM_EXEC_PATH_* */
	bool done;   /* reached the root */
};

static __always_inline struct mount *pm_real_mount(struct vfsmount *vfsmnt)
{
	return container_of(vfsmnt, struct mount, mnt);
}

/* The inode facts of `file` (struct pm_file_facts): direct loads, as
 * pm_fill_task does, since this runs for every exec and module load. */
static __always_inline void pm_fill_file(struct pm_file_facts *f, struct file *any)
{
	struct file *file = bpf_rdonly_cast(any, bpf_core_type_id_kernel(struct file));
	struct inode *inode = file->f_inode;
	/* container_of leaves the vfsmount's type: cast again */
	struct mount *mnt = bpf_rdonly_cast(pm_real_mount(file->f_path.mnt),
					    bpf_core_type_id_kernel(struct mount));

	f->ino = inode->i_ino;
	f->isize = inode->i_size;
	f->mtime_sec = inode->i_mtime_sec;
	f->mtime_nsec = inode->i_mtime_nsec;
	f->ctime_sec = inode->i_ctime_sec;
	/* bit 31 is I_CTIME_QUERIED (multigrain timestamps), not time */
	f->ctime_nsec = inode->i_ctime_nsec & ~(1u << 31);
	/* not i_sb->s_dev: btrfs subvolumes report another st_dev */
	f->mnt_id = mnt->mnt_id;
	f->nlink = inode->__i_nlink;
	f->mode = inode->i_mode;
	f->owner_uid = inode->i_uid.val;
	f->owner_gid = inode->i_gid.val;
}

/* d_unlinked(): unhashed and not its own parent. */
static __always_inline bool pm_dentry_unlinked(struct dentry *dentry)
{
	return !BPF_CORE_READ(dentry, d_hash.pprev) && BPF_CORE_READ(dentry, d_parent) != dentry;
}

/* This CPU's exec scratch record. */
static __always_inline struct pm_exec_scratch *pm_exec_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&pm_scratch, &cpu);
}

/* Where the path region starts in a scratch record. */
#define PM_PATH_REGION_OFF (sizeof(struct pm_exec_event) + PM_NAME_MAX)

static long pm_walk_step(__u32 i, void *ctx)
{
	struct pm_walk *w = ctx;
	/* locals: BPF_CORE_READ must not relocate fields of struct pm_walk */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	char *out = w->out;
	__u32 off = w->off, k = w->ncomps;
	long n;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt)
		goto done;
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (mnt_parent == mnt) /* the namespace's root mount */
			goto done;
		/* continue from where this mount is attached */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = &mnt_parent->mnt;
		return 0;
	}
	/*
	 * Its own parent but not a mount root: a pseudo file made by
	 * alloc_file_pseudo() (memfd, anonymous shmem). d_path() prints those
	 * as "/NAME (deleted)"; the flag tells user space to.
	 */
	if (dentry == parent)
		w->flags |= PM_EXEC_PATH_PSEUDO;

	if (off >= PM_PATH_MAX)
		return 1;
	pm_barrier_var(off);
	off &= PM_PATH_MAX - 1;
	n = bpf_probe_read_kernel_str(out + off, PM_NAME_MAX, BPF_CORE_READ(dentry, d_name.name));
	if (n <= 0 || off + n > PM_PATH_MAX) /* unreadable, or did not fit: cut */
		return 1;
	if (w->comps) {
		struct pm_exec_scratch *s = pm_exec_scratch();

		if (s && k < PM_PATH_DEPTH)
			s->comp_off[k] = off;
	}
	w->ncomps = k + 1;
	w->off = off + n;
	if (dentry == parent)
		goto done;
	w->dentry = parent;
	return 0;
done:
	w->done = true;
	return 1;
}

/*
 * Write the components of `path`, leaf first, each NUL-terminated, into
 * `out` (PM_PATH_MAX + PM_NAME_MAX bytes: a scratch record's path region,
 * or a ring-buffer record's), and with `comps` where each starts into the
 * exec scratch's comp_off. Returns the bytes used; sets PM_EXEC_PATH_*
 * bits in *flags and the number of components in *ncomps.
 */
static __always_inline __u32 pm_walk_path(const struct path *path, struct task_struct *task,
					  char *out, bool comps, __u32 *flags, __u32 *ncomps)
{
	struct pm_walk w = {
		.dentry = BPF_CORE_READ(path, dentry),
		.vfsmnt = BPF_CORE_READ(path, mnt),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.out = out,
		.comps = comps,
	};

	w.mnt = pm_real_mount(w.vfsmnt);
	if (pm_dentry_unlinked(w.dentry))
		w.flags |= PM_EXEC_PATH_DELETED;
	bpf_loop(PM_PATH_DEPTH, pm_walk_step, &w, 0);
	if (!w.done)
		w.flags |= PM_EXEC_PATH_CUT;
	*flags |= w.flags;
	*ncomps = w.ncomps;
	return w.off;
}

#endif /* PROCMON_PATH_BPF_H */
