#!/usr/bin/env bash
# Compare berth-image with skopeo pulling (and pushing) a ~100 MB image over a loopback registry.
#
#   bench/image.sh [-n RUNS] [--size-mb MB] [--no-push] [--build] [--json FILE]
#   BERTH_IMAGE=PATH bench/image.sh     # berth-image binary (default target/release/berth-image)
#   BERTH_IMAGE_PULL_ARGS / BERTH_IMAGE_PUSH_ARGS   # extra `berth-image copy` flags
#                                       # (default --src-tls-verify=false / --dest-tls-verify=false)
#
# Builds a 5-layer image of random data (default 100 MB, gzip), serves it from a
# docker-registry on 127.0.0.1, and times `skopeo copy` and `berth-image copy` side by side:
# docker:// -> oci: (pull) and oci: -> docker:// (push, a fresh registry per run). Reports
# medians of wall time and peak RSS with the berth/skopeo ratio. If berth-image is missing or
# fails, it is reported as not available and skopeo is still measured. Default 5 runs.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

usage() { echo "usage: $0 [-n RUNS] [--size-mb MB] [--no-push] [--build] [--json FILE]" >&2; exit 2; }

RUNS=5 SIZE_MB=100 BUILD=0 EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) [ $# -ge 2 ] || usage; RUNS="$2"; shift ;;
        --size-mb) [ $# -ge 2 ] || usage; SIZE_MB="$2"; shift ;;
        --no-push) EXTRA+=(--no-push) ;;
        --build) BUILD=1 ;;
        --json) [ $# -ge 2 ] || usage; EXTRA+=(--json "$2"); shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) usage ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*|0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac
case "$SIZE_MB" in ''|*[!0-9]*|0) echo "--size-mb must be a positive integer" >&2; exit 2 ;; esac

for tool in skopeo docker-registry python3; do
    command -v "$tool" >/dev/null || berth_die "missing tool: $tool"
done
cd "$BERTH_REPO_ROOT"
if [ "$BUILD" = 1 ]; then
    berth_log "cargo build --release -p berth-image"
    cargo build --release -p berth-image
fi
BERTH="${BERTH_IMAGE:-$BERTH_REPO_ROOT/target/release/berth-image}"
case "$BERTH" in /*) ;; *) BERTH="$PWD/$BERTH" ;; esac

WORK="$(berth_mktemp_dir berth-image-bench)"
PIDS="$WORK/registry.pids"
: >"$PIDS"

# Stop any registry the harness started and did not stop (it normally stops them all):
# only pids listed in $PIDS whose command line still names a config under $WORK.
cleanup() {
    set +e
    local pid
    while read -r pid; do
        [ -n "$pid" ] || continue
        [ -r "/proc/$pid/cmdline" ] || continue
        tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "docker-registry serve $WORK/" || continue
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done <"$PIDS"
    berth_rm_tmpdir "${WORK:?}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 "$BERTH_REPO_ROOT/bench/imagebench.py" --work "$WORK" --pidfile "$PIDS" \
    --runs "$RUNS" --size-mb "$SIZE_MB" --berth "$BERTH" "${EXTRA[@]}"
