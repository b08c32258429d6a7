#!/usr/bin/env bash
# Compare berth-runtime with runc and crun on one busybox bundle.
#
#   bench/runtime.sh [-n RUNS]        (default 30 runs; median reported)
#   BERTH_RUNTIME=PATH bench/runtime.sh   # use this binary instead of building
#   BERTH_BENCH_ONLY_OTHERS=1             # only runc and crun (no berth-runtime)
#
# Measures `run` of /bin/true (also under podman's default seccomp profile),
# create+start+wait+delete, `exec` of /bin/true into
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

mkdir -p "$WORK/bundle/rootfs" "$WORK/sleep" "$WORK/seccomp" "$WORK/state"
berth_busybox_rootfs "$WORK/bundle/rootfs"
(cd "$WORK/bundle" && "$RUNC" spec)
python3 - "$WORK/bundle" "$WORK/sleep" "$WORK/seccomp" <<'PY'
import json, os, sys
bundle, sleep, seccomp = sys.argv[1], sys.argv[2], sys.argv[3]
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

# podman's default seccomp profile, resolved as podman does for the spec's capabilities.
profile = "/usr/share/containers/seccomp.json"
if os.path.exists(profile):
    with open(profile) as f:
        src = json.load(f)
    caps = set(cfg["process"]["capabilities"]["bounding"])
    rules = []
    for s in src["syscalls"]:
        inc, exc = s.get("includes") or {}, s.get("excludes") or {}
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if not set(inc.get("caps") or []) <= caps or set(exc.get("caps") or []) & caps:
            continue
        rule = {"names": s["names"], "action": s["action"]}
        for k in ("errnoRet", "args"):
            if s.get(k) is not None:
                rule[k] = s[k]
        rules.append(rule)
    cfg["process"]["args"] = ["/bin/true"]
    cfg["linux"]["seccomp"] = {
        "defaultAction": src["defaultAction"], "defaultErrnoRet": src.get("defaultErrnoRet"),
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }
    with open(os.path.join(seccomp, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
PY
SECCOMP_ARGS=()
if [ -f "$WORK/seccomp/config.json" ]; then
    SECCOMP_ARGS=(--seccomp-bundle "$WORK/seccomp")
else
    berth_log "no /usr/share/containers/seccomp.json: skipping the seccomp row"
fi

python3 bench/harness.py --runs "$RUNS" --bundle "$WORK/bundle" --sleep-bundle "$WORK/sleep" \
    --tmp "$WORK/state" "${SECCOMP_ARGS[@]}" "${RUNTIMES[@]}"
