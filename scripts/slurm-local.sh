#!/usr/bin/env bash
# A single-node Slurm cluster on localhost, for tests/pipeline_slurm.test.ts and for trying --slurm by hand.
#
#   scripts/slurm-local.sh start   # installs slurm-wlm and munge if missing (Debian), starts munged, slurmctld, slurmd
#   export SLURM_CONF=/tmp/slurm-local/slurm.conf   # what start prints: sbatch, squeue, scontrol read it
#   scripts/slurm-local.sh stop    # stops, by pid, what start started
#
# Everything lives in $SLURM_LOCAL_DIR (default /tmp/slurm-local): the configuration, the controller's state,
# the spool, the logs and the pids of what was started. Needs root (munged runs as the munge user, slurmd as
# root so it can run jobs as their submitter). No accounting, no cgroups: ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none.
set -euo pipefail
DIR="${SLURM_LOCAL_DIR:-/tmp/slurm-local}"
CONF="$DIR/slurm.conf"
PIDS="$DIR/started.pids"
HOST="$(hostname -s)"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { echo "slurm-local: $*" >&2; }

install_packages() {
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_works; then
    log "munged already running; using it"
    return
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    $SUDO mkdir -p /etc/munge
    $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  $SUDO chown munge:munge /etc/munge /etc/munge/munge.key
  $SUDO chmod 0700 /etc/munge
  $SUDO chmod 0400 /etc/munge/munge.key
  $SUDO mkdir -p /run/munge /var/lib/munge /var/log/munge
  $SUDO chown munge:munge /run/munge /var/lib/munge /var/log/munge
  $SUDO chmod 0755 /run/munge
  $SUDO runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  for _ in $(seq 50); do
    munge_works && break
    sleep 0.1
  done
  munge_works || { log "munged did not come up"; exit 1; }
  echo "munged $(cat /run/munge/munged.pid)" >>"$PIDS"
}

write_conf() {
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$CONF" <<EOF
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldPort=${SLURM_LOCAL_CTLD_PORT:-6817}
SlurmdPort=${SLURM_LOCAL_SLURMD_PORT:-6818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
SchedulerType=sched/backfill
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  if [ -f "$PIDS" ]; then
    log "$PIDS exists: already started? run stop first"
    exit 1
  fi
  install_packages
  mkdir -p "$DIR"
  : >"$PIDS"
  start_munge
  write_conf
  export SLURM_CONF="$CONF"
  $SUDO slurmctld -f "$CONF"
  for _ in $(seq 100); do [ -s "$DIR/slurmctld.pid" ] && break; sleep 0.1; done
  echo "slurmctld $(cat "$DIR/slurmctld.pid")" >>"$PIDS"
  $SUDO slurmd -f "$CONF"
  for _ in $(seq 100); do [ -s "$DIR/slurmd.pid" ] && break; sleep 0.1; done
  echo "slurmd $(cat "$DIR/slurmd.pid")" >>"$PIDS"
  for _ in $(seq 300); do
    state="$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)"
    case "$state" in idle | mix | alloc) break ;; esac
    sleep 0.2
  done
  case "$state" in
    idle | mix | alloc) ;;
    *)
      log "the node did not become idle (state '${state:-none}'); logs in $DIR"
      tail -5 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
      exit 1
      ;;
  esac
  log "up: node $HOST is $state"
  echo "export SLURM_CONF=$CONF"
}

stop() {
  [ -f "$PIDS" ] || { log "nothing started (no $PIDS)"; return 0; }
  # Reverse order: slurmd, slurmctld, then munged.
  tac "$PIDS" | while read -r name pid; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      $SUDO kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid"
      log "stopped $name ($pid)"
    fi
  done
  rm -f "$PIDS"
  rm -rf "$DIR/state" "$DIR/spool"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
