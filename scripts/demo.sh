#!/usr/bin/env bash
# Build berth-runtime and run a busybox container with it.
#
#   scripts/demo.sh                      # build target/release/berth-runtime and use it
#   BERTH_RUNTIME=/usr/sbin/runc scripts/demo.sh   # run the same demo with another runtime
#
# Exits non-zero if the container did not print its greeting.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

berth_need_root
cd "$BERTH_REPO_ROOT"

if [ ! -x /bin/busybox ]; then
    berth_log "installing busybox-static"
    berth_apt_install busybox-static
fi

if [ -n "${BERTH_RUNTIME:-}" ]; then
    RUNTIME="$(berth_abs_exe "$BERTH_RUNTIME")"
else
    berth_log "cargo build --release -p berth-runtime"
    cargo build --release -p berth-runtime
    RUNTIME="$BERTH_REPO_ROOT/target/release/berth-runtime"
fi
command -v python3 >/dev/null || berth_die "python3 is required"

WORK="$(berth_mktemp_dir berth-demo)"
ID="berth-demo-$$"
cleanup() {
    "$RUNTIME" --root "$WORK/state" delete -f "$ID" >/dev/null 2>&1 || true
    berth_rm_tmpdir "${WORK:?}" || true
}
trap cleanup EXIT

BUNDLE="$WORK/bundle"
mkdir -p "$BUNDLE/rootfs" "$WORK/state"
berth_busybox_rootfs "$BUNDLE/rootfs"

berth_log "writing config.json with '$RUNTIME spec'"
(cd "$BUNDLE" && "$RUNTIME" spec)
python3 - "$BUNDLE/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    cfg = json.load(f)
cfg["process"]["terminal"] = False
cfg["process"]["args"] = ["sh", "-c", "echo hello from berth; hostname; id"]
cfg["hostname"] = "berth-demo"
cfg["root"] = {"path": "rootfs", "readonly": True}
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
PY

berth_log "$RUNTIME --root $WORK/state run -b $BUNDLE $ID"
set +e
OUT="$("$RUNTIME" --root "$WORK/state" run -b "$BUNDLE" "$ID" </dev/null 2>"$WORK/stderr")"
RC=$?
set -e
printf '%s\n' "$OUT"
if [ -s "$WORK/stderr" ]; then
    sed 's/^/stderr: /' "$WORK/stderr" >&2
fi

if [ "$RC" -ne 0 ]; then
    berth_die "the container exited with status $RC"
fi
if ! printf '%s\n' "$OUT" | grep -qx 'hello from berth'; then
    berth_die "the container did not print 'hello from berth'"
fi
if ! printf '%s\n' "$OUT" | grep -qx 'berth-demo'; then
    berth_die "the container's hostname is not berth-demo"
fi
berth_log "demo OK"
