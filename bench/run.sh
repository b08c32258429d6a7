#!/usr/bin/env bash
# `berth run --rm IMAGE true` side by side with `podman run --rm` and `ctr run --rm`
# on the same busybox image, the added cost of bridge networking per run (berth's
# default bridge network vs `--network none`, and podman's netavark bridge vs
# `--network none`), and the monitors' memory (berth-shim, conmon,
# containerd-shim-runc-v2) while they supervise `sleep 1000`.
#
#   bench/run.sh [-n RUNS] [--no-containerd]     (default 20 runs; medians reported)
#
# Rows: berth with berth-runtime (release build), berth with `--runtime runc`,
# podman with runc (private --root/--runroot/--tmpdir and config, overlay storage,
# cgroupfs, file events and locks), all three with `--network none`; ctr against a
# private containerd (own root, state and socket; its default runc shim; no network,
# like ctr run's default); then berth on its default bridge network (CNI: bridge,
# portmap, firewall, tuning) and podman on a bridge network of this run's own
# (netavark, DNS off). Both bridges are this run's own (berthrb<PID>, berthpm<PID>)
# on /24s no host route overlaps, deleted on exit. The image is one
# busybox rootfs tar: `berth-image import` into a temporary store, `podman import`
# of the same tar, and `ctr images import` of `berth-image copy ... oci-archive:`.
# Nothing of the machine's podman or containerd state is used; everything lives in
# one temporary directory and the cgroup parents /berth-rb-PID*, removed on exit.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

RUNS=20 WITH_CONTAINERD=1
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) [ $# -ge 2 ] || berth_die "-n needs a number"; RUNS="$2"; shift ;;
        --no-containerd) WITH_CONTAINERD=0 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "usage: $0 [-n RUNS] [--no-containerd]" >&2; exit 2 ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*|0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac

berth_need_root
cd "$BERTH_REPO_ROOT"
[ -x /bin/busybox ] || berth_die "/bin/busybox is missing (apt-get install busybox-static)"
for tool in python3 podman; do
    command -v "$tool" >/dev/null || berth_die "missing tool: $tool"
done
RUNC="$(berth_abs_exe runc)"

berth_log "cargo build --release -p berth-shim -p berth-runtime -p berth-image"
cargo build --release -p berth-shim -p berth-runtime -p berth-image
BIN="$BERTH_REPO_ROOT/target/release"
BERTH="$BIN/berth"

# A short directory name: the attach socket RUN_ROOT/<64 hex>/attach must stay under 108 bytes.
WORK="$(berth_mktemp_dir berth-rb)"
CG="/berth-rb-$$"                 # berth's cgroup parent
PM_CG="/berth-rb-$$-podman"       # podman's
NS="berth-rb-$$-ctr"              # containerd namespace (also ctr's cgroup parent)
C="$WORK/containerd"
PODMAN_READY="" CONTAINERD_PID=""

export BERTH_ROOT="$WORK/berth/root"
export BERTH_RUN_ROOT="$WORK/berth/run"
export BERTH_IMAGE_STORE="$WORK/berth/images"
export BERTH_RUNTIME="$BIN/berth-runtime"
export BERTH_SHIM="$BIN/berth-shim"
export BERTH_CGROUP_PARENT="$CG"
# Bridge networks of this run's own: device names start with berth (<= 15 characters),
# subnets that no host route overlaps.
BR_DEV="berthrb$(( $$ % 10000000 ))"
PM_DEV="berthpm$(( $$ % 10000000 ))"
PM_NET="berth-rb-$$"
read -r BR_SUBNET PM_SUBNET < <(python3 - "$$" <<'PY'
import ipaddress, subprocess, sys
TYPES = {"unicast", "local", "broadcast", "multicast", "anycast", "unreachable",
         "blackhole", "prohibit", "throw", "nat"}
routes = []
for line in subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                           text=True).stdout.splitlines():
    words = line.split()
    if words and words[0] in TYPES:
        words = words[1:]
    if not words or words[0] == "default":
        continue
    try:
        routes.append(ipaddress.ip_network(words[0], strict=False))
    except ValueError:
        pass
pid = int(sys.argv[1])
free = []
for second in range(200, 250):
    net = ipaddress.ip_network(f"10.{second}.{pid % 250}.0/24")
    if not any(net.overlaps(r) for r in routes):
        free.append(str(net))
    if len(free) == 2:
        break
if len(free) < 2:
    sys.exit("no free 10.2xx.y.0/24 for the bench's bridges")
print(*free)
PY
)
export BERTH_DEFAULT_BRIDGE="$BR_DEV" BERTH_DEFAULT_SUBNET="$BR_SUBNET"

mkdir -p "$WORK/podman/tmp" "$WORK/podman/net" "$WORK/podman/conf"
cat >"$WORK/podman/conf/containers.conf" <<CONF
[containers]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/podman/events.log"
static_dir = "$WORK/podman/storage/libpod"
volume_path = "$WORK/podman/storage/volumes"
lock_type = "file"
CONF
cat >"$WORK/podman/conf/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORK/podman/storage"
runroot = "$WORK/podman/run"
CONF
PM_ENV=(CONTAINERS_CONF="$WORK/podman/conf/containers.conf"
        CONTAINERS_STORAGE_CONF="$WORK/podman/conf/storage.conf")
PM=(podman --root "$WORK/podman/storage" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp"
    --network-config-dir "$WORK/podman/net" --cgroup-manager cgroupfs --events-backend file
    --runtime "$RUNC")
PM_RUN=(--network none --cgroup-parent "$PM_CG" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
PM_RUN_BRIDGE=(--network "$PM_NET" --cgroup-parent "$PM_CG" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
pm() { env "${PM_ENV[@]}" "${PM[@]}" "$@"; }
cc() { ctr -a "$C/containerd.sock" -n "$NS" "$@"; }

# Stop what this run started, by pid or by name in its own stores only.
cleanup() {
    set +e
    berth_stop_containers "$BERTH"
    if [ -n "$PODMAN_READY" ]; then
        pm rm -af -t 0 >/dev/null 2>&1
        pm network rm -f "$PM_NET" >/dev/null 2>&1
        pm rmi -af >/dev/null 2>&1
    fi
    # The bridges of this run (the plugins delete veths and rules with the containers).
    local dev
    for dev in "$BR_DEV" "$PM_DEV"; do
        [ -e "/sys/class/net/$dev" ] && ip link del dev "$dev" 2>/dev/null
    done
    if [ -n "$CONTAINERD_PID" ]; then
        local id pid
        for id in $(cc task ls -q 2>/dev/null); do cc task kill -s SIGKILL "$id" >/dev/null 2>&1; done
        sleep 0.5
        for id in $(cc task ls -q 2>/dev/null); do cc task rm -f "$id" >/dev/null 2>&1; done
        for id in $(cc container ls -q 2>/dev/null); do cc container rm "$id" >/dev/null 2>&1; done
        # Shims of this containerd: their command line names our socket.
        for pid in $(pgrep -f "containerd-shim-runc-v2 -namespace $NS -id .* -address $C/containerd.sock" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        kill -TERM "$CONTAINERD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$CONTAINERD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CONTAINERD_PID" 2>/dev/null
        wait "$CONTAINERD_PID" 2>/dev/null
    fi
    berth_rm_tmpdir "${WORK:?}"
    berth_rm_cgroup_parent "$CG"
    berth_rm_cgroup_parent "$PM_CG"
    berth_rm_cgroup_parent "$NS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the image
berth_log "busybox rootfs tar; berth-image import; podman import"
mkdir -p "$WORK/rootfs"
berth_busybox_rootfs "$WORK/rootfs"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
"$BIN/berth-image" --store "$BERTH_IMAGE_STORE" import -c 'CMD ["sh"]' "$WORK/rootfs.tar" busybox:latest >/dev/null
PODMAN_READY=1
pm import -q --change 'CMD ["sh"]' "$WORK/rootfs.tar" localhost/busybox:latest >/dev/null
berth_log "podman network $PM_NET ($PM_SUBNET, bridge $PM_DEV); berth's default network: $BR_SUBNET, bridge $BR_DEV"
# podman 4.3 has no --interface-name: the network's file (netavark's format) is
# written into the private --network-config-dir directly.
python3 - "$WORK/podman/net/$PM_NET.json" "$PM_NET" "$PM_DEV" "$PM_SUBNET" <<'PY'
import ipaddress, json, os, sys, time
path, name, dev, subnet = sys.argv[1:]
net = ipaddress.ip_network(subnet)
with open(path, "w") as f:
    json.dump({
        "name": name, "id": os.urandom(32).hex(), "driver": "bridge",
        "network_interface": dev,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
        "subnets": [{"subnet": str(net), "gateway": str(net.network_address + 1)}],
        "ipv6_enabled": False, "internal": False, "dns_enabled": False,
        "ipam_options": {"driver": "host-local"},
    }, f, indent=1)
PY
pm network inspect "$PM_NET" >/dev/null || berth_die "podman does not take network $PM_NET"

json_argv() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }
json_env() { # json_env NAME=VALUE... : a JSON object
    python3 -c 'import json, sys; print(json.dumps(dict(a.split("=", 1) for a in sys.argv[1:])))' "$@"
}
BERTH_ENV="$(json_env BERTH_ROOT="$BERTH_ROOT" BERTH_RUN_ROOT="$BERTH_RUN_ROOT" \
    BERTH_IMAGE_STORE="$BERTH_IMAGE_STORE" BERTH_RUNTIME="$BERTH_RUNTIME" \
    BERTH_SHIM="$BERTH_SHIM" BERTH_CGROUP_PARENT="$BERTH_CGROUP_PARENT" \
    BERTH_DEFAULT_BRIDGE="$BERTH_DEFAULT_BRIDGE" BERTH_DEFAULT_SUBNET="$BERTH_DEFAULT_SUBNET")"

# ---------------------------------------------------------------- containerd
CTR_ROW="" CTR_RSS="null" SKIPPED="[]"
skip_ctr() {
    berth_warn "ctr: skipped: $1"
    SKIPPED="$(python3 -c 'import json, sys; print(json.dumps([{"name": "ctr run --rm (containerd, runc)", "reason": sys.argv[1]}]))' "$1")"
}
start_containerd() {
    if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
        skip_ctr "containerd or ctr is not installed"
        return 0
    fi
    berth_containerd_config "$C"
    berth_log "starting a private containerd ($C)"
    containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    local up=0
    for _ in $(seq 200); do
        if ctr -a "$C/containerd.sock" version >/dev/null 2>&1; then up=1; break; fi
        kill -0 "$CONTAINERD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" != 1 ]; then
        skip_ctr "the private containerd did not come up in 20 s: $(tail -n 3 "$C/containerd.log" | tr '\n' ' ')"
        return 0
    fi
    "$BIN/berth-image" --store "$BERTH_IMAGE_STORE" copy busybox:latest \
        "oci-archive:$WORK/busybox-oci.tar:docker.io/library/busybox:latest" >/dev/null
    if ! cc images import "$WORK/busybox-oci.tar" >"$C/import.log" 2>&1; then
        skip_ctr "ctr images import failed: $(tail -n 3 "$C/import.log" | tr '\n' ' ')"
        return 0
    fi
    local ctr_argv
    ctr_argv="$(json_argv ctr -a "$C/containerd.sock" -n "$NS")"
    CTR_ROW="$(python3 - "$ctr_argv" "$$" <<'PY'
import json, sys
argv = json.loads(sys.argv[1])
print(json.dumps({"name": "ctr run --rm (containerd, runc)",
                  "argv": argv + ["run", "--rm", "docker.io/library/busybox:latest"],
                  "ctr_ids": True, "id_prefix": f"rb{sys.argv[2]}"}))
PY
)"
    CTR_RSS="$(python3 -c 'import json, sys; print(json.dumps({"argv": json.loads(sys.argv[1]), "image": "docker.io/library/busybox:latest", "id_prefix": "rb" + sys.argv[2]}))' "$ctr_argv" "$$")"
}
if [ "$WITH_CONTAINERD" = 1 ]; then
    start_containerd
else
    skip_ctr "--no-containerd"
fi

# ---------------------------------------------------------------- the engines
ENGINES="$WORK/engines.json"
python3 - "$ENGINES" "$BERTH" "$BERTH_ENV" "$RUNC" "$BIN/berth-runtime" \
    "$(json_argv "${PM[@]}")" "$(json_env "${PM_ENV[@]}")" "$(json_argv "${PM_RUN[@]}")" \
    "$(json_argv "${PM_RUN_BRIDGE[@]}")" "$PM_NET" \
    "${CTR_ROW:-null}" "$CTR_RSS" "$SKIPPED" \
    "$(podman --version)" "$("$RUNC" --version | head -n 1)" \
    "$( (containerd --version 2>/dev/null || true) | awk '{print $3}')" <<'PY'
import json, sys
(path, berth, benv, runc, berth_runtime, pm, pmenv, pmrun, pmrun_bridge, pm_net, ctr_row,
 ctr_rss, skipped, podman_v, runc_v, containerd_v) = sys.argv[1:]
benv, pm, pmenv, pmrun = json.loads(benv), json.loads(pm), json.loads(pmenv), json.loads(pmrun)
pmrun_bridge = json.loads(pmrun_bridge)
image = "localhost/busybox:latest"
none = ["--network", "none"]
B_NONE = "berth run --rm --network none (berth-runtime)"
B_BRIDGE = "berth run --rm (bridge, berth-runtime)"
P_NONE = "podman run --rm --network none (runc)"
P_BRIDGE = f"podman run --rm --network {pm_net} (runc)"
rows = [
    {"name": B_NONE, "argv": [berth, "run", "--rm"] + none + ["busybox"], "env": benv},
    {"name": "berth run --rm --network none --runtime runc",
     "argv": [berth, "run", "--rm"] + none + ["--runtime", runc, "busybox"], "env": benv},
    {"name": P_NONE, "argv": pm + ["run", "--rm"] + pmrun + [image], "env": pmenv},
]
ctr_row = json.loads(ctr_row)
if ctr_row:
    rows.append(ctr_row)
rows += [
    {"name": B_BRIDGE, "argv": [berth, "run", "--rm", "busybox"], "env": benv},
    {"name": P_BRIDGE, "argv": pm + ["run", "--rm"] + pmrun_bridge + [image], "env": pmenv},
]
pairs = [
    {"label": "berth (CNI bridge, portmap, firewall, tuning)", "none": B_NONE, "bridge": B_BRIDGE},
    {"label": "podman (netavark bridge)", "none": P_NONE, "bridge": P_BRIDGE},
]
rss = {
    "berth": {"argv": [berth, "run", "-d", "--network", "none", "busybox"], "env": benv,
              "berth": berth, "runtime": berth_runtime},
    "podman": {"argv": pm, "env": pmenv, "run_opts": pmrun, "image": image},
}
ctr_rss = json.loads(ctr_rss)
if ctr_rss:
    rss["ctr"] = ctr_rss
notes = [
    f"podman {podman_v.split()[-1]} (runc), {runc_v}" + (f", containerd {containerd_v}" if containerd_v else ""),
    "The first rows run without a network (ctr run's default); the bridge rows attach each",
    "container to a bridge network (veth, address, routes, rules) and detach it again.",
]
with open(path, "w") as f:
    json.dump({"rows": rows, "rss": rss, "skipped": json.loads(skipped), "notes": notes,
               "pairs": pairs}, f, indent=1)
PY

berth_log "timing (-n $RUNS)"
python3 "$BERTH_REPO_ROOT/bench/runbench.py" --runs "$RUNS" --engines "$ENGINES" --work "$WORK"
