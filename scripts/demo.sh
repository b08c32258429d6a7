#!/usr/bin/env bash
# The berth workflow on a fresh machine: build berth, berth-shim, berth-runtime
# and berth-image (release), make a busybox image in a temporary store, and run
# a container from it with `berth run`.
#
#   scripts/demo.sh                                  # OCI runtime: target/release/berth-runtime
#   BERTH_RUNTIME=/usr/sbin/runc scripts/demo.sh     # the same workflow with runc (or crun)
#
# Everything lives in one temporary directory (BERTH_ROOT, BERTH_RUN_ROOT,
# BERTH_IMAGE_STORE) and the cgroup parent /berth-demo-PID; both are removed on
# exit. Exits non-zero if the container did not print its greeting.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

berth_need_root
cd "$BERTH_REPO_ROOT"

if [ ! -x /bin/busybox ]; then
    berth_log "installing busybox-static"
    berth_apt_install busybox-static
fi
# Containers join a bridge network by default: the CNI plugins do the host side.
if [ ! -x /usr/lib/cni/bridge ] || ! command -v iptables >/dev/null; then
    berth_log "installing containernetworking-plugins iptables"
    berth_apt_install containernetworking-plugins iptables
fi

berth_log "cargo build --release -p berth-shim -p berth-runtime -p berth-image"
cargo build --release -p berth-shim -p berth-runtime -p berth-image
BIN="$BERTH_REPO_ROOT/target/release"
BERTH="$BIN/berth"
if [ -n "${BERTH_RUNTIME:-}" ]; then
    RUNTIME="$(berth_abs_exe "$BERTH_RUNTIME")"
else
    RUNTIME="$BIN/berth-runtime"
fi

WORK="$(berth_mktemp_dir berth-demo)"
# berth reads its roots from the environment (or --root, --run-root, --store, --runtime).
export BERTH_ROOT="$WORK/root"
export BERTH_RUN_ROOT="$WORK/run"
export BERTH_IMAGE_STORE="$WORK/images"
export BERTH_RUNTIME="$RUNTIME"
export BERTH_SHIM="$BIN/berth-shim"
export BERTH_CGROUP_PARENT="/berth-demo-$$"
# The default network's bridge device is the demo's own (deleted at exit).
export BERTH_DEFAULT_BRIDGE="berthdemo$(( $$ % 100000 ))"
cleanup() {
    set +e
    berth_stop_containers "$BERTH"
    berth_rm_tmpdir "${WORK:?}"
    berth_rm_cgroup_parent "${BERTH_CGROUP_PARENT:?}"
    if ip link show "${BERTH_DEFAULT_BRIDGE:?}" >/dev/null 2>&1; then
        ip link del "$BERTH_DEFAULT_BRIDGE"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A busybox image, made locally: a rootfs tar imported into the store.
mkdir -p "$WORK/rootfs"
berth_busybox_rootfs "$WORK/rootfs"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
berth_log "berth-image import -c 'CMD [\"sh\"]' rootfs.tar busybox:latest"
"$BIN/berth-image" --store "$BERTH_IMAGE_STORE" import -c 'CMD ["sh"]' "$WORK/rootfs.tar" busybox:latest
"$BERTH" images

berth_log "berth run --rm --hostname berth-demo busybox sh -c 'echo hello from berth; hostname; id'   (runtime: $RUNTIME)"
set +e
OUT="$("$BERTH" run --rm --hostname berth-demo busybox \
    sh -c 'echo hello from berth; hostname; id' </dev/null 2>"$WORK/stderr")"
RC=$?
set -e
printf '%s\n' "$OUT"
if [ -s "$WORK/stderr" ]; then
    sed 's/^/stderr: /' "$WORK/stderr" >&2
fi
if [ "$RC" -ne 0 ]; then
    berth_die "berth run exited with status $RC"
fi
if ! printf '%s\n' "$OUT" | grep -qx 'hello from berth'; then
    berth_die "the container did not print 'hello from berth'"
fi
if ! printf '%s\n' "$OUT" | grep -qx 'berth-demo'; then
    berth_die "the container's hostname is not berth-demo"
fi

# --rm: the monitor removed the container (record, bundle, log) before berth run returned.
LEFT="$(find "$BERTH_ROOT/containers" -mindepth 1 -maxdepth 1 -type d | wc -l)"
if [ "$LEFT" -ne 0 ]; then
    berth_die "--rm left $LEFT container(s) under $BERTH_ROOT/containers"
fi

# The exit code is the container's.
set +e
"$BERTH" run --rm busybox sh -c 'exit 3' </dev/null
RC=$?
set -e
[ "$RC" -eq 3 ] || berth_die "berth run of 'exit 3' exited with $RC, not 3"
berth_log "berth run --rm busybox sh -c 'exit 3': exit status 3"

# A detached container: ps, logs, stop, rm.
ID="$("$BERTH" run -d --name demo-bg busybox sh -c 'echo hello from the background; sleep 1000' </dev/null)"
berth_log "berth run -d: $ID"
"$BERTH" ps
for _ in $(seq 50); do
    "$BERTH" logs demo-bg 2>/dev/null | grep -qx 'hello from the background' && break
    sleep 0.1
done
"$BERTH" logs -t demo-bg
"$BERTH" logs demo-bg | grep -qx 'hello from the background' ||
    berth_die "berth logs did not show the background container's greeting"
"$BERTH" stop -t 1 demo-bg >/dev/null
STATUS="$("$BERTH" inspect -f '{{.State.Status}} {{.State.ExitCode}}' demo-bg)"
berth_log "after berth stop: $STATUS"
"$BERTH" rm demo-bg >/dev/null
[ -z "$("$BERTH" ps -a -q)" ] || berth_die "berth rm left a container behind"

berth_log "demo OK"
