#!/usr/bin/env bash
# Bring up / tear down a ONE-NODE Slurm cluster on this machine, for the
# integration test and CI. Uses Debian bookworm's packages (Slurm 22.05,
# munge 0.5.15) and starts the daemons directly, never via systemd: CI is a
# fresh container-like machine where systemd is not PID 1. Linux/Debian only,
# must run as root. It does not install anything; CI installs with
#   DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge
#
#   scripts/slurm-local.sh up      # munged (unless one answers), slurmctld, slurmd; waits for the node to be idle
#   scripts/slurm-local.sh down    # stops only what `up` started, removes our slurm.conf and the state dir
#   scripts/slurm-local.sh status  # exit 0 and sinfo if up, exit 1 if not
#
# The cluster: ClusterName=lab-local, one node (this host, Feature=lab-local)
# in partition `lab`. Config goes to /etc/slurm/slurm.conf (Debian's default,
# so sbatch/squeue/sinfo need no env var); a config this script did not write
# is never overwritten. Pid files, logs and Slurm's state live in
# ${LAB_SLURM_DIR:-/var/tmp/lab-slurm}.
set -euo pipefail

state=${LAB_SLURM_DIR:-/var/tmp/lab-slurm}
conf=/etc/slurm/slurm.conf
marker='# written by concurrency-lab scripts/slurm-local.sh'

say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 1; }

# ours NAME: true if $state/NAME.pid names a live process running NAME's
# binary. The exe check keeps a stale pid file (reused pid) from ever making
# us signal an unrelated process.
ours() {
	local pid bin
	[[ -r $state/$1.pid ]] || return 1
	pid=$(<"$state/$1.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	bin=$(readlink -f "$(command -v "$1")") || return 1
	[[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == "$bin" ]]
}

# alive PID...: true if any PID is a live process (a zombie is not: in a
# container, PID 1 may never reap our daemons).
alive() {
	local p st
	for p; do
		read -r _ _ st _ 2>/dev/null <"/proc/$p/stat" && [[ $st != Z ]] && return 0
	done
	return 1
}

# stop NAME...: SIGTERM each of ours at once (they exit in well under 1 s),
# wait up to 15 s, then SIGKILL what is left.
stop() {
	local name pid pids=() i
	for name; do
		if ours "$name"; then
			pid=$(<"$state/$name.pid")
			say "stopping $name (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
		rm -f "$state/$name.pid"
	done
	for ((i = 0; i < 150; i++)); do
		alive "${pids[@]}" || return 0
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		alive "$pid" && { say "pid $pid ignored SIGTERM; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
	done
	return 0
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

# `timeout`: sinfo blocks (10 s a try, retrying) on a port that accepts but
# does not answer. `|| true`: it fails until slurmctld answers; under pipefail
# that would end the script silently.
node_state() { timeout 5 sinfo -h -N -o '%N %T' 2>/dev/null | head -n1 || true; }

# fail MSG: show the daemons' logs, undo the half-done `up`, exit 1.
fail() {
	local f
	for f in "$state"/slurmctld.log "$state"/slurmd.log; do
		[[ -r $f ]] && { echo "--- tail $f" >&2; tail -n 30 "$f" >&2; }
	done
	do_down
	die "$1"
}

do_down() {
	local t0=$SECONDS
	# Cancel our jobs first: slurmstepd survives slurmd by design, so jobs
	# left running would outlive the cluster. Bounded: 10 s.
	if ours slurmctld && ours slurmd; then
		timeout 5 scancel --partition=lab 2>/dev/null || true
		while ((SECONDS - t0 < 10)); do
			[[ -z $(timeout 5 squeue -h -t R,CG,S -o %i 2>/dev/null) ]] && break
			sleep 0.1
		done
	fi
	stop slurmd slurmctld munged # munged only if `up` started it (wrote munged.pid)
	if [[ -f $conf && $(head -n1 "$conf") == "$marker" ]]; then rm -f "$conf"; fi
	# Remove only what `up` creates, never `rm -rf $LAB_SLURM_DIR`.
	rm -rf "$state/ctld" "$state/spool"
	rm -f "$state"/{slurmctld,slurmd}.log "$state/jobcomp.log"
	rmdir "$state" 2>/dev/null || true
}

write_conf() {
	local host node mem
	host=$(hostname -s)
	# `slurmd -C` line 1: NodeName=... CPUs=... RealMemory=N. RealMemory is
	# lowered 2% so a slightly smaller reading at registration cannot drain
	# the node for low memory.
	node=$(slurmd -C | head -n1) || fail "slurmd -C failed"
	[[ $node == NodeName=* ]] || fail "unexpected 'slurmd -C' output: $node"
	mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
	node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((mem * 98 / 100))/" <<<"$node")
	mkdir -p /etc/slurm
	cat >"$conf" <<EOF
$marker
# One-node cluster for the lab's integration test; removed by \`down\`.
ClusterName=lab-local
# 127.0.0.1: works whether or not the hostname resolves.
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
# The default (mail) is not installed; its absence logs an error at start.
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
# No slurmdbd, so plain sacct fails ("accounting storage is disabled");
# finished jobs go to a text file that only \`sacct -c\` reads (raw job ids).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.log
# Jobs get cores (two 1-CPU jobs share the node); --exclusive gets it all.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Measured: a queued job starts ~1 s after the node frees up and ~0.9 s
# after sbatch (default batch_sched_delay=3 makes that ~1.9 s when another job
# was scheduled <3 s before). The very first job waits for slurmctld's first
# scheduling pass, ~3 s after it starts. sched/builtin is no faster.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
# Keep finished jobs in slurmctld for an hour: \`scontrol show job\` and
# \`squeue -t all\` show their final state (plain squeue hides them).
MinJobAge=3600
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
$node NodeAddr=127.0.0.1 State=UNKNOWN Feature=lab-local
PartitionName=lab Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

do_up() {
	local p i st t0
	for p in munged:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client; do
		command -v "${p%%:*}" >/dev/null ||
			die "${p%%:*} not found (package ${p#*:}); install with: DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge"
	done
	if [[ -f $conf && $(head -n1 "$conf") != "$marker" ]]; then
		die "$conf exists and was not written by this script; refusing to overwrite it"
	fi
	if ours slurmctld && ours slurmd; then
		say "already up"
		sinfo -N -h -o '%N|%P|%f|%T'
		return 0
	fi
	# Half up (a daemon died): start clean.
	if ours slurmctld || ours slurmd || ours munged; then
		say "partially up; restarting"
		do_down
	fi
	mkdir -p "$state/ctld" "$state/spool"

	if munge_ok; then
		say "using the munged already running"
	else
		if [[ ! -s /etc/munge/munge.key ]]; then
			install -d -o munge -g munge -m 0700 /etc/munge
			dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none
			chown munge:munge /etc/munge/munge.key
			chmod 0400 /etc/munge/munge.key
		fi
		# /run is empty on a fresh boot: munged needs its socket dir.
		install -d -o munge -g munge -m 0755 /run/munge
		# A stale pid file must not make another process look like ours.
		rm -f /run/munge/munged.pid
		runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
		for ((i = 0; i < 50; i++)); do munge_ok && break; sleep 0.1; done
		# Copying its pid file marks it as ours, for `down` (and for
		# `fail`): the file was removed first, so it is the one started.
		cp /run/munge/munged.pid "$state/munged.pid" 2>/dev/null || true
		munge_ok || fail "munged does not answer; see /var/log/munge/munged.log"
	fi

	write_conf
	slurmctld || fail "slurmctld failed to start"
	slurmd || fail "slurmd failed to start"
	t0=$SECONDS
	while ((SECONDS - t0 < 60)); do
		st=$(node_state)
		case $st in
		*" idle") break ;;
		*" down"* | *" drain"*) timeout 5 scontrol update nodename="${st%% *}" state=resume 2>/dev/null || true ;;
		esac
		# A daemon that died after forking (e.g. port 6817/6818 in use) will
		# not come back: fail fast. Pid files are written just after the fork.
		if ((SECONDS - t0 >= 2)) && ! { ours slurmctld && ours slurmd; }; then
			fail "slurmctld or slurmd exited"
		fi
		sleep 0.1
	done
	[[ $st == *" idle" ]] || fail "node not idle after 60 s (sinfo: ${st:-nothing})"
	say "up: $st"
}

[[ $(uname -s) == Linux ]] || die "Linux only"
[[ $EUID -eq 0 ]] || die "must run as root"
export PATH=$PATH:/usr/sbin
case ${1:-} in
up) do_up ;;
down) do_down ;;
status)
	if ours slurmctld && ours slurmd; then
		echo "up"
		sinfo
	else
		echo "down"
		exit 1
	fi
	;;
*) die "usage: $0 up|down|status" ;;
esac
