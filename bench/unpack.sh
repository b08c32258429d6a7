#!/usr/bin/env bash
# Compare `berth-image unpack` with `umoci unpack` on a 5-layer image.
#
#   bench/unpack.sh [-n RUNS] [--size-mb MB] [--build] [--json FILE]
#   BERTH_IMAGE=PATH bench/unpack.sh    # berth-image binary (default target/release/berth-image)
#
# Builds an OCI layout holding a 5-layer image of about SIZE_MB (default 200) unpacked:
# random (incompressible) files, compressible text files and many small files per layer,
# gzip-compressed (about 100 MB compressed by default). Then, run by run, side by side:
#   umoci unpack --image DIR:latest BUNDLE
#   berth-image unpack (cold: a fresh store, every layer extracted into the layer cache)
#   berth-image unpack (warm: a second bundle of the same image from that cache)
#   berth-image unpack --no-overlay (the copy fallback)
# Reports medians and ratios. Every bundle is checked, then released (berth) or removed
# (umoci); the work directory is removed (after unmounting anything below it) on exit.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

usage() { echo "usage: $0 [-n RUNS] [--size-mb MB] [--build] [--json FILE]" >&2; exit 2; }

RUNS=5 SIZE_MB=200 BUILD=0 EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) [ $# -ge 2 ] || usage; RUNS="$2"; shift ;;
        --size-mb) [ $# -ge 2 ] || usage; SIZE_MB="$2"; shift ;;
        --build) BUILD=1 ;;
        --json) [ $# -ge 2 ] || usage; EXTRA+=(--json "$2"); shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) usage ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*|0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac
case "$SIZE_MB" in ''|*[!0-9]*|0) echo "--size-mb must be a positive integer" >&2; exit 2 ;; esac

berth_need_root
for tool in umoci python3; do
    command -v "$tool" >/dev/null || berth_die "missing tool: $tool"
done
cd "$BERTH_REPO_ROOT"
if [ "$BUILD" = 1 ]; then
    berth_log "cargo build --release -p berth-image"
    cargo build --release -p berth-image
fi
BERTH="${BERTH_IMAGE:-$BERTH_REPO_ROOT/target/release/berth-image}"
BERTH="$(berth_abs_exe "$BERTH")"

WORK="$(berth_mktemp_dir berth-unpack-bench)"
# berth_rm_tmpdir unmounts whatever is still mounted below WORK before removing it.
trap 'berth_rm_tmpdir "${WORK:?}"' EXIT
trap 'exit 130' INT TERM

python3 "$BERTH_REPO_ROOT/bench/unpackbench.py" --work "$WORK" \
    --runs "$RUNS" --size-mb "$SIZE_MB" --berth "$BERTH" "${EXTRA[@]}"
