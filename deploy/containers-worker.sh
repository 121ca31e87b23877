#!/bin/sh
# The worker container's entrypoint: give the sandbox cgroups it may manage,
# then run the command (the worker).
#
# A container's /sys/fs/cgroup is read-only, and with the host's cgroup
# namespace shows hierarchies the container must not touch. With CAP_SYS_ADMIN
# (which the sandbox needs anyway) this script enters a cgroup namespace of its
# own rooted at the container's cgroup and mounts the memory, pids, cpu and
# cpuacct hierarchies (cgroup v1) or the unified hierarchy (v2) read-write on a
# private /sys/fs/cgroup: the worker then sees exactly its container's cgroup
# as "/" and creates each run's cgroups beneath it. Nothing above the
# container's cgroup is reachable from there; the container's own limits
# (the engine's, set on that cgroup) still bound everything below it.
#
# LLMREPL_SANDBOX_SLOT_DIR: the directory, shared by every worker container on
# the host, where uid slots are locked (sandbox/sbx_slot.h); created here.
set -eu

log() { echo "containers-worker: $*" >&2; }

if [ "${LLMREPL_CGROUPS_READY:-}" != 1 ]; then
	export LLMREPL_CGROUPS_READY=1
	if unshare --cgroup --mount --propagation private true 2>/dev/null; then
		exec unshare --cgroup --mount --propagation private "$0" "$@"
	fi
	log "cannot create a cgroup and mount namespace (no CAP_SYS_ADMIN?): runs get rlimits only"
	export LLMREPL_CGROUPS_READY=0
fi

if [ "$LLMREPL_CGROUPS_READY" = 1 ]; then
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		# v2: the namespace's root is the container's cgroup. Processes may
		# not sit in a cgroup whose controllers are delegated below it, so
		# this shell (then the worker) moves to /worker, everything else to
		# /init, and the root delegates memory, pids and cpu.
		mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
		mkdir -p /sys/fs/cgroup/init /sys/fs/cgroup/worker
		echo $$ >/sys/fs/cgroup/worker/cgroup.procs
		for p in $(cat /sys/fs/cgroup/cgroup.procs); do
			echo "$p" >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
		done
		for c in memory pids cpu; do
			echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
				log "cannot delegate the $c controller"
		done
	else
		mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=64k cgroup /sys/fs/cgroup
		# Each hierarchy with every controller co-mounted on it (as on the
		# host: a v1 hierarchy mounts only with its exact set), as
		# /sys/fs/cgroup/<set>, plus a link per controller when they differ.
		for c in memory pids cpu cpuacct; do
			h=$(awk -v c="$c" '$1 == c && $4 == 1 { print $2 }' /proc/cgroups)
			[ -n "$h" ] && [ "$h" != 0 ] || continue
			set=$(awk -v h="$h" '!/^#/ && $2 == h { printf "%s%s", s, $1; s = "," }' /proc/cgroups)
			if [ ! -d "/sys/fs/cgroup/$set" ]; then
				mkdir "/sys/fs/cgroup/$set"
				mount -t cgroup -o "nosuid,nodev,noexec,$set" cgroup "/sys/fs/cgroup/$set" ||
					{ rmdir "/sys/fs/cgroup/$set"; log "cannot mount the $set cgroup hierarchy"; continue; }
			fi
			[ "$set" = "$c" ] || ln -sfn "$set" "/sys/fs/cgroup/$c"
		done
	fi
fi

if [ -n "${LLMREPL_SANDBOX_SLOT_DIR:-}" ]; then
	mkdir -p "$LLMREPL_SANDBOX_SLOT_DIR"
	chmod 700 "$LLMREPL_SANDBOX_SLOT_DIR"
fi
exec "$@"
