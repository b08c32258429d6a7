#!/usr/bin/env bash
# Compare berth-runtime with runc and crun on one busybox bundle.
#
#   bench/runtime.sh [-n RUNS]        (default 30 runs; median reported)
#   BERTH_RUNTIME=PATH bench/runtime.sh   # use this binary instead of building
#   BERTH_BENCH_ONLY_OTHERS=1             # only runc and crun (no berth-runtime)
#
# Measures `run` of /bin/true, create+start+wait+delete, `exec` of /bin/true into
# a running container, the VmRSS of a created container's process, plus the bare
# `unshare` namespace baseline and the cost of the wrapper every runtime runs in.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

RUNS=30
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) [ $# -ge 2 ] || berth_die "-n needs a number"; RUNS="$2"; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "usage: $0 [-n RUNS]" >&2; exit 2 ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*|0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac

berth_need_root
cd "$BERTH_REPO_ROOT"
[ -x /bin/busybox ] || berth_die "/bin/busybox is missing (apt-get install busybox-static)"
RUNC="$(berth_abs_exe runc)"
CRUN="$(berth_abs_exe crun)"

RUNTIMES=()
if [ "${BERTH_BENCH_ONLY_OTHERS:-0}" != 1 ]; then
    if [ -n "${BERTH_RUNTIME:-}" ]; then
        BERTH="$(berth_abs_exe "$BERTH_RUNTIME")"
    else
        berth_log "cargo build --release -p berth-runtime"
        cargo build --release -p berth-runtime
        BERTH="$BERTH_REPO_ROOT/target/release/berth-runtime"
    fi
    RUNTIMES+=("berth-runtime=$BERTH")
fi
RUNTIMES+=("runc=$RUNC" "crun=$CRUN")

WORK="$(berth_mktemp_dir berth-bench)"
trap 'berth_rm_tmpdir "${WORK:?}"' EXIT

mkdir -p "$WORK/bundle/rootfs" "$WORK/sleep" "$WORK/state"
berth_busybox_rootfs "$WORK/bundle/rootfs"
(cd "$WORK/bundle" && "$RUNC" spec)
python3 - "$WORK/bundle" "$WORK/sleep" <<'PY'
import json, os, sys
bundle, sleep = sys.argv[1], sys.argv[2]
with open(os.path.join(bundle, "config.json")) as f:
    cfg = json.load(f)
cfg["ociVersion"] = "1.0.2"          # crun 1.8.1 rejects newer spec versions
cfg["process"]["terminal"] = False
cfg["process"]["args"] = ["/bin/true"]
cfg["root"] = {"path": "rootfs", "readonly": True}
with open(os.path.join(bundle, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
cfg["process"]["args"] = ["/bin/sleep", "100000"]
cfg["root"] = {"path": os.path.join(bundle, "rootfs"), "readonly": True}
with open(os.path.join(sleep, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
PY

python3 bench/harness.py --runs "$RUNS" --bundle "$WORK/bundle" --sleep-bundle "$WORK/sleep" \
    --tmp "$WORK/state" "${RUNTIMES[@]}"
