#!/bin/bash
# cluster.sh -- a real single-node Slurm on loopback for the tests (no systemd, no munge).
#   tests/slurm/cluster.sh start DIR [CPUS]   writes DIR/slurm.conf, starts slurmctld and
#                                             slurmd, waits until the node is idle; prints
#                                             the line to source: export SLURM_CONF=...
#   tests/slurm/cluster.sh stop DIR           stops both daemons (by the pids they wrote)
# Authentication is auth/none (the daemons and the clients trust each other on loopback);
# finished jobs are recorded in DIR/jobcomp.txt (jobcomp/filetxt) without slurmdbd. Ports
# come from the directory's name, so two test runs on one machine do not collide.
set -u
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [CPUS]" >&2; exit 2; }
stop() {
    for d in slurmd slurmctld; do
        [ -f "$dir/$d.pid" ] || continue
        pid=$(cat "$dir/$d.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
        rm -f "$dir/$d.pid"
    done
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR [CPUS]" >&2; exit 2; }
for b in slurmctld slurmd sbatch squeue scontrol; do
    command -v $b >/dev/null || PATH=$PATH:/usr/sbin
    command -v $b >/dev/null || { echo "cluster: $b is not installed (scripts/install-deps.sh --test installs Slurm)" >&2; exit 1; }
done
cpus=${3:-$(nproc)}
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
dir=$(realpath "$dir")
user=$(id -un)
port=$(( 20000 + $(echo "$dir" | cksum | cut -d' ' -f1) % 20000 ))
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 / 2 }' /proc/meminfo)
cat > "$dir/slurm.conf" <<CONF
ClusterName=artest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MpiDefault=none
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
SlurmdTimeout=30
KillWait=5
SchedulerParameters=sched_interval=1
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
export SLURM_CONF=$dir/slurm.conf
slurmctld -i -f "$SLURM_CONF" >>"$dir/log/start.log" 2>&1 || { echo "cluster: slurmctld did not start (see $dir/log)" >&2; exit 1; }
slurmd -N localhost -f "$SLURM_CONF" >>"$dir/log/start.log" 2>&1 || { echo "cluster: slurmd did not start (see $dir/log)" >&2; stop; exit 1; }
for _ in $(seq 150); do
    st=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    [ "$st" = idle ] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
    sleep 0.2
done
echo "cluster: the node never became idle (sinfo: ${st:-nothing}; see $dir/log)" >&2
stop
exit 1
