#!/usr/bin/env bash
# Run real container engines (podman, containerd/ctr) against an OCI runtime.
#
#   conformance/run-engines.sh RUNTIME [--quick] [--only podman|containerd]
#
# RUNTIME is a runc-compatible binary (target/debug/berth-runtime, /usr/sbin/runc,
# conformance/lib/crun-wrapper). Everything the script creates lives in one
# mktemp directory $T: a busybox OCI image (umoci), a docker-registry on
# 127.0.0.1:<free port>, podman storage (--root/--runroot/--tmpdir), a private
# containerd (root, state, socket, config) and a unique containerd namespace.
# The cleanup trap stops what it started by pid, unmounts under $T, removes $T.
#
# Output: one "PASS name" / "FAIL name" line per step; the last line is exactly
# "N passed, N failed". Exit status: 0 all passed, 1 failures, 2 usage error.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

usage() {
    echo "usage: $0 RUNTIME [--quick] [--only podman|containerd]" >&2
    exit 2
}

RUNTIME_ARG="" QUICK=0 ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --only)
            [ $# -ge 2 ] || usage
            ONLY="$2"
            shift
            ;;
        --only=*) ONLY="${1#--only=}" ;;
        -h|--help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *)
            [ -z "$RUNTIME_ARG" ] || usage
            RUNTIME_ARG="$1"
            ;;
    esac
    shift
done
[ -n "$RUNTIME_ARG" ] || usage
case "$ONLY" in ""|podman|containerd) ;; *) echo "--only takes podman or containerd" >&2; usage ;; esac
if [ ! -f "$RUNTIME_ARG" ] && [ "${RUNTIME_ARG#*/}" != "$RUNTIME_ARG" ]; then
    echo "runtime not found: $RUNTIME_ARG" >&2
    exit 2
fi
RUNTIME="$(berth_abs_exe "$RUNTIME_ARG")" || exit 2
[ "$(id -u)" -eq 0 ] || { echo "run-engines.sh must run as root" >&2; exit 2; }

for tool in umoci skopeo docker-registry python3 script; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done
[ -x /bin/busybox ] || { echo "missing /bin/busybox (busybox-static)" >&2; exit 2; }
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
if want podman; then command -v podman >/dev/null || { echo "missing tool: podman" >&2; exit 2; }; fi
if want containerd; then
    for tool in containerd ctr; do command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }; done
fi

T="$(berth_mktemp_dir berth-engines)"
TAG="be$$"
NS="berth-engines-$$-$RANDOM"         # containerd namespace (also its cgroup parent)
CG_PARENT="/berth-engines-$$"         # podman cgroup parent
REGISTRY_PID="" CONTAINERD_PID=""
PASSED=0 FAILED=0

# ---------------------------------------------------------------- cleanup
kill_pid() { # kill_pid PID : TERM, wait up to 5s, then KILL.
    local pid="$1"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    set +e
    if [ -n "${PODMAN_READY:-}" ]; then
        pm rm -af -t 0 >/dev/null 2>&1
        pm rmi -af >/dev/null 2>&1
    fi
    if [ -n "$CONTAINERD_PID" ]; then
        for id in $(c_ctr task ls -q 2>/dev/null); do c_ctr task kill -s SIGKILL "$id" >/dev/null 2>&1; done
        sleep 0.5
        for id in $(c_ctr task ls -q 2>/dev/null); do c_ctr task rm -f "$id" >/dev/null 2>&1; done
        for id in $(c_ctr container ls -q 2>/dev/null); do c_ctr container rm "$id" >/dev/null 2>&1; done
        # containerd-shim processes this run's containerd started (they hold our socket address).
        for pid in $(pgrep -f "containerd-shim.*-namespace $NS .*-address $T/" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        kill_pid "$CONTAINERD_PID"
    fi
    kill_pid "$REGISTRY_PID"
    berth_rm_cgroup_parent "$CG_PARENT"
    berth_rm_cgroup_parent "$NS"
    berth_rm_tmpdir "${T:?}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- reporting
OUT="$T/out"
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL $1${2:+: $2}"
    if [ -s "$OUT" ]; then head -n 20 "$OUT" | cat -v | sed 's/^/    | /'; fi
}
# check NAME CMD... : PASS when CMD exits 0 (its output is kept in $OUT).
check() {
    local name="$1"
    shift
    if "$@" >"$OUT" 2>&1 </dev/null; then pass "$name"; else fail "$name" "exit $?"; fi
}
# check_out NAME REGEX CMD... : PASS when CMD exits 0 and a line of its output matches REGEX.
check_out() {
    local name="$1" re="$2" rc=0
    shift 2
    "$@" >"$OUT" 2>&1 </dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then fail "$name" "exit $rc"
    elif tr -d '\r' <"$OUT" | grep -Eq -- "$re"; then pass "$name"
    else fail "$name" "output does not match /$re/"
    fi
}
# check_rc NAME WANT CMD... : PASS when CMD exits with status WANT.
check_rc() {
    local name="$1" want="$2" rc=0
    shift 2
    "$@" >"$OUT" 2>&1 </dev/null || rc=$?
    if [ "$rc" -eq "$want" ]; then pass "$name"; else fail "$name" "exit $rc, want $want"; fi
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # wait_for SECONDS CMD... : retry CMD every 0.2s.
    local n=$(($1 * 5))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

echo "runtime: $RUNTIME"
echo "workdir: $T"

# ---------------------------------------------------------------- image + registry
build_image() {
    local b="$T/unpack"
    umoci init --layout "$T/oci" &&
        umoci new --image "$T/oci:busybox" &&
        umoci unpack --image "$T/oci:busybox" "$b" &&
        berth_busybox_rootfs "$b/rootfs" &&
        umoci repack --image "$T/oci:busybox" "$b" &&
        umoci config --image "$T/oci:busybox" --config.cmd sh \
            --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir / &&
        umoci gc --layout "$T/oci"
}

start_registry() {
    local port
    port="$(free_port)"
    mkdir -p "$T/registry"
    cat >"$T/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $T/registry
http:
  addr: 127.0.0.1:$port
YML
    docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
    REGISTRY_PID=$!
    REGISTRY="127.0.0.1:$port"
    wait_for 20 python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)"
}

cat >"$T/policy.json" <<'JSON'
{"default": [{"type": "insecureAcceptAnything"}]}
JSON

check "image: build busybox OCI layout with umoci" build_image
check "registry: start docker-registry" start_registry
IMAGE="${REGISTRY:-127.0.0.1:1}/berth/busybox:$TAG"
check "registry: skopeo push" skopeo --policy "$T/policy.json" copy --dest-tls-verify=false \
    "oci:$T/oci:busybox" "docker://$IMAGE"

# ---------------------------------------------------------------- podman
if want podman; then
    mkdir -p "$T/podman/tmp" "$T/podman/net" "$T/podman/conf"
    cat >"$T/podman/conf/containers.conf" <<CONF
[containers]
log_driver = "k8s-file"
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/podman/events.log"
static_dir = "$T/storage/libpod"
volume_path = "$T/storage/volumes"
CONF
    cat >"$T/podman/conf/registries.conf" <<CONF
unqualified-search-registries = []
[[registry]]
location = "$REGISTRY"
insecure = true
CONF
    cat >"$T/podman/conf/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$T/storage"
runroot = "$T/run"
CONF
    pm() {
        CONTAINERS_CONF="$T/podman/conf/containers.conf" \
            CONTAINERS_REGISTRIES_CONF="$T/podman/conf/registries.conf" \
            CONTAINERS_STORAGE_CONF="$T/podman/conf/storage.conf" \
            podman --root "$T/storage" --runroot "$T/run" --tmpdir "$T/podman/tmp" \
            --storage-driver vfs --network-config-dir "$T/podman/net" \
            --cgroup-manager cgroupfs --events-backend file --runtime "$RUNTIME" "$@"
    }
    PODMAN_READY=1
    RUNOPTS=(--network none --cgroup-parent "$CG_PARENT" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
    PC="bep$$"

    check "podman: pull" pm pull --tls-verify=false --signature-policy "$T/policy.json" "$IMAGE"
    check_out "podman: run --rm echo" '^hello from podman$' \
        pm run --rm "${RUNOPTS[@]}" "$IMAGE" echo hello from podman
    check "podman: run -d" pm run -d --name "$PC" --hostname berth-podman "${RUNOPTS[@]}" "$IMAGE" \
        sh -c 'echo started; exec sleep 1000'
    check_out "podman: exec cat /etc/hostname" '^berth-podman$' pm exec "$PC" cat /etc/hostname
    logs_ready() { pm logs "$PC" 2>&1 | grep -q started; }
    wait_for 5 logs_ready || true
    check_out "podman: logs" '^started$' pm logs "$PC"
    check "podman: stop -t 2" pm stop -t 2 "$PC"
    check "podman: rm" pm rm "$PC"

    if [ "$QUICK" -eq 0 ]; then
        check "podman: run -d (for pause)" pm run -d --name "${PC}p" "${RUNOPTS[@]}" "$IMAGE" sleep 1000
        check "podman: pause" pm pause "${PC}p"
        check_out "podman: inspect shows paused" '^paused$' pm inspect -f '{{.State.Status}}' "${PC}p"
        check "podman: unpause" pm unpause "${PC}p"
        check_out "podman: top" 'sleep' pm top "${PC}p"
        check "podman: rm -f" pm rm -f "${PC}p"

        # stats reads the container's cgroups; update goes through `RUNTIME update --resources FILE`.
        podman_stats_mem() { # podman_stats_mem NAME : print podman's stats JSON, fail on zero memory use.
            pm stats --no-stream --format json "$1" | python3 -c '
import json, re, sys
text = sys.stdin.read()
print(text)
s = json.loads(text)[0]
usage = s.get("mem_usage", "").split("/")[0].strip()
sys.exit(0 if re.match(r"[0-9.]*[1-9]", usage) else 1)'
        }
        cgroup_memory_limit='cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
        check "podman: run -d (for stats and update)" pm run -d --name "${PC}s" "${RUNOPTS[@]}" "$IMAGE" sleep 1000
        check "podman: stats --no-stream (memory in use)" podman_stats_mem "${PC}s"
        check "podman: update --memory 64m" pm update --memory 64m "${PC}s"
        check_out "podman: update reached the cgroup" '^67108864$' pm exec "${PC}s" sh -c "$cgroup_memory_limit"
        check "podman: rm -f (stats and update)" pm rm -f "${PC}s"

        # script(1) runs its command through a shell: give it a small runner script.
        cat >"$T/podman/tty.sh" <<SH
#!/bin/sh
exec env CONTAINERS_CONF="$T/podman/conf/containers.conf" \
    CONTAINERS_REGISTRIES_CONF="$T/podman/conf/registries.conf" \
    CONTAINERS_STORAGE_CONF="$T/podman/conf/storage.conf" \
    podman --root "$T/storage" --runroot "$T/run" --tmpdir "$T/podman/tmp" \
    --storage-driver vfs --network-config-dir "$T/podman/net" \
    --cgroup-manager cgroupfs --events-backend file --runtime "$RUNTIME" \
    run --rm -t --network none --cgroup-parent "$CG_PARENT" \
    --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$IMAGE" tty
SH
        chmod +x "$T/podman/tty.sh"
        check_out "podman: run -t" '^/dev/pts/[0-9]+$' script -qec "$T/podman/tty.sh" /dev/null
        check_out "podman: --memory 64m" '^67108864$' pm run --rm "${RUNOPTS[@]}" --memory 64m "$IMAGE" \
            sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
        check_out "podman: --pids-limit 50" '^50$' pm run --rm "${RUNOPTS[@]}" --pids-limit 50 "$IMAGE" \
            sh -c 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
        check_out "podman: --read-only" '^read-only$' pm run --rm "${RUNOPTS[@]}" --read-only "$IMAGE" \
            sh -c 'if touch /berth-x 2>/dev/null; then echo writable; else echo read-only; fi'
        check_out "podman: --user 1000:1000" '^1000:1000$' pm run --rm "${RUNOPTS[@]}" --user 1000:1000 "$IMAGE" \
            sh -c 'echo "$(id -u):$(id -g)"' # expands in the container
        check_out "podman: --cap-drop ALL" '^CapEff:[[:space:]]+0+$' pm run --rm "${RUNOPTS[@]}" --cap-drop ALL "$IMAGE" \
            grep CapEff /proc/self/status
        check_rc "podman: exit code 7" 7 pm run --rm "${RUNOPTS[@]}" "$IMAGE" sh -c 'exit 7'
    fi
fi

# ---------------------------------------------------------------- containerd
if want containerd; then
    C="$T/containerd"
    berth_containerd_config "$C"
    c_ctr() { ctr -a "$C/containerd.sock" -n "$NS" "$@"; }
    start_containerd() {
        containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
        CONTAINERD_PID=$!
        wait_for 30 ctr -a "$C/containerd.sock" version
    }
    CC="bec$$"
    check "containerd: start private containerd" start_containerd
    check "containerd: ctr pull --plain-http" c_ctr image pull --plain-http "$IMAGE"
    check_out "containerd: ctr run --rm echo" '^hello from containerd$' \
        c_ctr run --rm --runc-binary "$RUNTIME" "$IMAGE" "${CC}a" echo hello from containerd
    if [ "$QUICK" -eq 0 ]; then
        check "containerd: ctr run -d" c_ctr run -d --runc-binary "$RUNTIME" "$IMAGE" "$CC" sleep 1000
        check_out "containerd: task exec" '^berth-ctr-ok$' \
            c_ctr task exec --exec-id "e$$" "$CC" sh -c 'echo berth-ctr-ok'
        check "containerd: task pause" c_ctr task pause "$CC"
        check_out "containerd: task ls shows PAUSED" 'PAUSED' c_ctr task ls
        check "containerd: task resume" c_ctr task resume "$CC"
        check_out "containerd: task ps" '[0-9]' c_ctr task ps "$CC"
        check_out "containerd: task metrics (memory)" '^memory\.usage(_in_bytes)?[[:space:]]+[1-9]' \
            c_ctr task metrics "$CC"
        check "containerd: task kill" c_ctr task kill -s SIGKILL "$CC"
        task_stopped() { c_ctr task ls | awk -v id="$CC" '$1 == id && $3 == "STOPPED" { f = 1 } END { exit !f }'; }
        wait_for 10 task_stopped || true
        check "containerd: task rm" c_ctr task rm "$CC"
        check "containerd: container rm" c_ctr container rm "$CC"
        check_rc "containerd: exit code 7" 7 \
            c_ctr run --rm --runc-binary "$RUNTIME" "$IMAGE" "${CC}x" sh -c 'exit 7'
    fi
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
