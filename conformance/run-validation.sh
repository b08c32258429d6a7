#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite against a runc-compatible runtime.
#
# Usage: conformance/run-validation.sh RUNTIME [--only NAME...] [--timeout S] [--results DIR] [--cache DIR]
#   RUNTIME      runtime binary, e.g. target/release/berth-runtime, /usr/sbin/runc,
#                conformance/lib/crun-wrapper
#   --only NAME  run only the named programs (repeatable; also NAME,NAME)
#   --timeout S  per-program time limit in seconds (default 120)
#   --results D  results directory (default target/conformance/results/<runtime name>);
#                must be a new or existing directory
#   --cache D    build cache of conformance/build-validation.sh (default target/conformance)
#
# Builds the suite first if needed (conformance/build-validation.sh). Each program runs
# with RUNTIME=<runtime> in a work directory holding runtimetest and rootfs-amd64.tar.gz.
# Writes to the results directory: tap/NAME.tap (stdout, TAP), tap/NAME.err (stderr),
# results.tsv and summary.md (per-program ok / not ok / skip counts, exit code, verdict,
# seconds; then totals). Counts are of top-level TAP lines only ("ok", "not ok",
# "ok ... # SKIP"); nested runtimetest output sits in YAML blocks and is not counted.
# "error" counts top-level YAML diagnostics with an "error" key: the hook programs
# (hooks, prestart, poststop, ...) print no test lines, only a plan "1..0" and, on failure,
# such a diagnostic; the *_fail programs print nothing at all when the runtime rejects the
# config as it must. Verdict: pass = exit 0, no "not ok" line, and no error diagnostic
# unless there are test results (passing tests carry "error" keys too); timeout = killed
# after S seconds; fail otherwise. Ends with "N passed, N failed"; exits 1 if any failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/lib/common.sh
. "$HERE/../scripts/lib/common.sh"
ROOT=$BERTH_REPO_ROOT

usage() { sed -n '4,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

RUNTIME="" ONLY=() TIMEOUT=120 RESULTS="" CACHE=$ROOT/target/conformance
while [[ $# -gt 0 ]]; do
    case $1 in
        --only)
            [[ $# -ge 2 ]] || usage
            shift
            while [[ $# -gt 0 && $1 != -* ]]; do
                [[ -z $RUNTIME && $1 == */* ]] && break # RUNTIME after the names
                IFS=, read -ra names <<<"$1"
                ONLY+=("${names[@]}")
                shift
            done
            ;;
        --timeout) TIMEOUT=${2:-}; shift 2 || usage ;;
        --results) RESULTS=${2:-}; shift 2 || usage ;;
        --cache) CACHE=${2:-}; shift 2 || usage ;;
        -h | --help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) [[ -z $RUNTIME ]] || usage; RUNTIME=$1; shift ;;
    esac
done
[[ -n $RUNTIME ]] || usage
[[ $TIMEOUT =~ ^[0-9]+$ ]] || usage
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 2; }

if [[ $RUNTIME != */* ]]; then
    RUNTIME=$(command -v "$RUNTIME") || { echo "runtime not found: $RUNTIME" >&2; exit 2; }
fi
RT=$(realpath "$RUNTIME" 2>/dev/null) || RT=""
[[ -n $RT && -x $RT ]] || { echo "runtime not executable: $RUNTIME" >&2; exit 2; }

# Build only what runs (all programs unless --only); unknown names fail here.
"$HERE/build-validation.sh" --cache "$CACHE" "${ONLY[@]}" || { echo "building the suite failed" >&2; exit 2; }
CACHE=$(cd "$CACHE" && pwd) || exit 2
BIN=$CACHE/bin
mapfile -t ALL <"$CACHE/programs.txt"
if [[ ${#ONLY[@]} -gt 0 ]]; then PROGRAMS=("${ONLY[@]}"); else PROGRAMS=("${ALL[@]}"); fi

# Every path below is removed or written under $RESULTS: it must be a real directory.
# (An earlier version went on with an empty $RESULTS when --results named an existing
# file, and its "rm -rf $RESULTS/work" removed /work. Never again: check, and use ${:?}.)
[[ -n $RESULTS ]] || RESULTS=$CACHE/results/$(basename "$RT")
if [[ -e $RESULTS && ! -d $RESULTS ]]; then
    echo "--results $RESULTS exists and is not a directory" >&2; exit 2
fi
mkdir -p -- "$RESULTS" || exit 2
RESULTS=$(cd -- "$RESULTS" && pwd) || exit 2
[[ -n $RESULTS && $RESULTS != / && -d $RESULTS ]] || { echo "bad results directory" >&2; exit 2; }
rm -rf -- "${RESULTS:?}/tap" "${RESULTS:?}/work"
mkdir -p -- "$RESULTS/tap" "$RESULTS/work" || exit 2
# fileutils.CopyFile copies symlinks as symlinks: the work dir needs real files.
cp "$BIN/runtimetest" "$BIN/rootfs-amd64.tar.gz" "$RESULTS/work/" || exit 2

# The suite makes its bundles with os.MkdirTemp("", ...) and leaves some behind when
# create fails, and a runtime that shares the host mount namespace (linux_ns_itype: runc)
# leaves the container's proc, sys and dev mounts in it: give the suite a private TMPDIR
# under /tmp, unmount everything under it at the end and remove it without crossing mounts.
SUITE_TMP=$(mktemp -d /tmp/berth-validation.XXXXXX) || exit 2
cleanup() {
    berth_umount_under "${SUITE_TMP:?}"
    rm -rf --one-file-system -- "${SUITE_TMP:?}" "${RESULTS:?}/work"
}
trap cleanup EXIT

TSV=$RESULTS/results.tsv
printf 'program\tverdict\texit\tok\tnot_ok\tskip\terror\tseconds\n' >"$TSV"
PASSED=0 FAILED=0 T0=$SECONDS
echo "runtime: $RT ($("$RT" --version 2>/dev/null | head -1))"
for p in "${PROGRAMS[@]}"; do
    t0=$SECONDS
    (cd "$RESULTS/work" && RUNTIME=$RT TMPDIR=$SUITE_TMP timeout -k 10 "$TIMEOUT" "$BIN/$p") \
        >"$RESULTS/tap/$p.tap" 2>"$RESULTS/tap/$p.err" </dev/null
    rc=$?
    secs=$((SECONDS - t0))
    nok=$(grep -c '^not ok' "$RESULTS/tap/$p.tap")
    skip=$(grep -cE '^ok [0-9]+ # (SKIP|skip)' "$RESULTS/tap/$p.tap")
    ok=$(( $(grep -c '^ok' "$RESULTS/tap/$p.tap") - skip ))
    # Top-level YAML diagnostics with an "error" key (the hook programs report only so).
    errs=$(grep -c '^    "error": ' "$RESULTS/tap/$p.tap")
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then verdict=timeout
    elif [[ $rc -eq 0 && $nok -eq 0 ]] && [[ $((ok + skip)) -gt 0 || $errs -eq 0 ]]; then verdict=pass
    else verdict=fail; fi
    if [[ $verdict == pass ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$verdict" "$rc" "$ok" "$nok" "$skip" "$errs" "$secs" >>"$TSV"
    printf '%-38s %-7s exit=%-3s ok=%-4s not_ok=%-3s skip=%-4s error=%-2s %ss\n' "$p" "$verdict" "$rc" "$ok" "$nok" "$skip" "$errs" "$secs"
done
TOTAL_SECS=$((SECONDS - T0))

{
    echo "# runtime-tools validation: $(basename "$RT")"
    echo
    echo "Runtime: \`$RT\` ($("$RT" --version 2>/dev/null | head -1)); per-program timeout ${TIMEOUT}s."
    echo
    echo "| program | verdict | exit | ok | not ok | skip | error | s |"
    echo "|---|---|---|---|---|---|---|---|"
    tail -n +2 "$TSV" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
    tail -n +2 "$TSV" | awk -F'\t' -v s="$TOTAL_SECS" -v v="$PASSED pass, $FAILED fail" '
        { ok += $4; nok += $5; sk += $6; er += $7 }
        END { printf "| **total** | %s | | %d | %d | %d | %d | %d |\n", v, ok, nok, sk, er, s }'
} >"$RESULTS/summary.md"

echo
echo "results: $RESULTS (summary.md, results.tsv, tap/); ${TOTAL_SECS}s"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
