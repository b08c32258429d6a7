#!/usr/bin/env bash
# Log throughput of berth's monitor (berth-shim) against podman's (conmon).
#
#   bench/logs.sh [-n RUNS] [--size-mb MB] [--build]
#   BERTH=DIR bench/logs.sh            # directory with berth, berth-shim, berth-image
#                                      # (default target/release; --build builds it)
#   BERTH_BENCH_RUNTIME=PATH           # OCI runtime for both (default runc)
#
# A busybox container writes MB megabytes (default 100) of numbered 100-byte lines
# (`000000001 xxx...`) as fast as awk can, detached. Timed end to end: from `run -d`
# until the monitor has exited (the log is fully written and synced), for
# `berth run -d` and for `podman run -d --log-driver k8s-file` (runc, cgroupfs,
# file events, its own --root/--runroot/--tmpdir in a temp dir: the machine's podman
# state is not touched; the same busybox rootfs is `podman import`ed there). Each log
# is checked to hold every line, in order (P pieces joined), and the last number.
# A second container makes the lines first and then `cat`s them: the time between its
# stderr markers in the log is the monitor's own throughput. Also times reading the
# log back (`berth logs` / `podman logs` to /dev/null).
# Reports medians in MB/s and the berth/podman ratio. Default 3 runs.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

usage() { echo "usage: $0 [-n RUNS] [--size-mb MB] [--build]" >&2; exit 2; }

RUNS=3 SIZE_MB=100 BUILD=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) [ $# -ge 2 ] || usage; RUNS="$2"; shift ;;
        --size-mb) [ $# -ge 2 ] || usage; SIZE_MB="$2"; shift ;;
        --build) BUILD=1 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) usage ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*|0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac
case "$SIZE_MB" in ''|*[!0-9]*|0) echo "--size-mb must be a positive integer" >&2; exit 2 ;; esac

berth_need_root
cd "$BERTH_REPO_ROOT"
for tool in podman conmon awk; do
    command -v "$tool" >/dev/null || berth_die "missing tool: $tool"
done
RUNTIME="$(berth_abs_exe "${BERTH_BENCH_RUNTIME:-runc}")"
if [ "$BUILD" = 1 ]; then
    berth_log "cargo build --release -p berth-shim -p berth-image"
    cargo build --release -p berth-shim -p berth-image
fi
BIN="${BERTH:-$BERTH_REPO_ROOT/target/release}"
BERTH_CLI="$(berth_abs_exe "$BIN/berth")"
BERTH_SHIM="$(berth_abs_exe "$BIN/berth-shim")"
BERTH_IMAGE="$(berth_abs_exe "$BIN/berth-image")"

# Short: the attach socket path (RUN_ROOT/ID/attach) must stay under 108 bytes.
WORK="$(berth_mktemp_dir blogs)"
CGROUP_PARENT="/berth-logs-bench-$$"
# Podman with every piece of state inside $WORK.
PODMAN=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp"
        --cgroup-manager cgroupfs --events-backend file --runtime "$RUNTIME")
cleanup() {
    set +e
    "${PODMAN[@]}" rm -a -f >/dev/null 2>&1
    berth_rm_cgroup_parent "$CGROUP_PARENT"
    berth_rm_tmpdir "${WORK:?}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export BERTH_ROOT="$WORK/berth/root" BERTH_RUN_ROOT="$WORK/r" \
       BERTH_IMAGE_STORE="$WORK/berth/store" BERTH_RUNTIME="$RUNTIME" \
       BERTH_SHIM="$BERTH_SHIM" BERTH_CGROUP_PARENT="$CGROUP_PARENT"

berth_log "busybox rootfs, imported into berth-image and podman"
mkdir -p "$WORK/rootfs" "$WORK/podman"
berth_busybox_rootfs "$WORK/rootfs"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
"$BERTH_IMAGE" --store "$BERTH_IMAGE_STORE" import -c 'CMD ["sh"]' "$WORK/rootfs.tar" busybox:latest >/dev/null
"${PODMAN[@]}" import -q "$WORK/rootfs.tar" localhost/busybox:latest >/dev/null

LINES=$((SIZE_MB * 10000))   # 100-byte lines: MB is 10^6 bytes
WIDTH=100
GEN="awk 'BEGIN { pad = sprintf(\"%$((WIDTH - 11))s\", \"\"); gsub(/ /, \"x\", pad);
  for (i = 1; i <= $LINES; i++) printf \"%09d %s\\n\", i, pad }'"
# stream: the lines straight from awk (end to end, as fast as the container writes);
# burst: the lines made first, then `cat` pushes them as fast as the monitor takes
# them (timed between the stderr markers' log times: the monitor alone).
STREAM="$GEN"
BURST="$GEN >/tmp/lines; echo start >&2; cat /tmp/lines; echo end >&2"

now() { date +%s.%N; }

# wait_gone PID : until the process has exited (or is a zombie).
wait_gone() {
    local st
    while st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" && [ "$st" != Z ]; do
        sleep 0.005
    done
}

# check_log FILE : the CRI log's stdout holds lines 1..LINES in order (P pieces
# joined), each WIDTH bytes.
check_log() {
    local res n last bad
    res="$(awk -v width="$WIDTH" '
        $2 != "stdout" { next }
        { tag = $3; c = $0; sub(/^[^ ]* [^ ]* [^ ]* ?/, "", c); buf = buf c
          if (tag != "F") next
          n++; if (substr(buf, 1, 9) + 0 != n || length(buf) + 1 != width) bad++
          last = substr(buf, 1, 9) + 0; buf = "" }
        END { printf "%d %d %d\n", n, last, bad }' "$1")"
    read -r n last bad <<<"$res"
    if [ "$n" != "$LINES" ] || [ "$last" != "$LINES" ] || [ "$bad" != 0 ]; then
        berth_warn "log check failed for $1: $n lines (want $LINES), last $last, $bad wrong"
        return 1
    fi
}

# marker_span FILE : seconds between the `start` and `end` stderr records.
marker_span() {
    local a b
    a="$(awk '$2 == "stderr" && $4 == "start" { print $1; exit }' "$1")"
    b="$(awk '$2 == "stderr" && $4 == "end" { print $1; exit }' "$1")"
    if [ -z "$a" ] || [ -z "$b" ]; then
        berth_warn "no start/end markers in $1"
        return 1
    fi
    awk -v a="$(date -u -d "$a" +%s.%N)" -v b="$(date -u -d "$b" +%s.%N)" 'BEGIN { printf "%.6f\n", b - a }'
}

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'; }

# {berth,podman}_run NAME CMD : start CMD detached; wait for the monitor to exit;
# print the log's path.
berth_run() {
    local id pid
    id="$("$BERTH_CLI" run -d --network none --name "$1" busybox sh -c "$2")" || return 1
    [ -n "$id" ] || return 1
    pid="$(cat "$BERTH_RUN_ROOT/$id/shim.pid" 2>/dev/null || true)"
    if [ -n "$pid" ]; then wait_gone "$pid"; fi
    while [ ! -e "$BERTH_ROOT/containers/$id/exit.json" ] || [ -e "$BERTH_RUN_ROOT/$id" ]; do
        sleep 0.005
    done
    echo "$BERTH_ROOT/containers/$id/ctr.log"
}
berth_logs() { "$BERTH_CLI" logs "$1"; }

podman_run() {
    local pid
    "${PODMAN[@]}" run -d --name "$1" --network none --log-driver k8s-file \
        --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
        --conmon-pidfile "$WORK/podman/$1.pid" localhost/busybox:latest sh -c "$2" >/dev/null || return 1
    pid="$(cat "$WORK/podman/$1.pid")" || return 1
    wait_gone "$pid"
    "${PODMAN[@]}" inspect --format '{{.HostConfig.LogConfig.Path}}' "$1"
}
podman_logs() { "${PODMAN[@]}" logs "$1"; }

# one TOOL RUN : prints "end-to-end-seconds read-seconds burst-seconds".
one() {
    local tool="$1" t0 t1 t2 log span
    t0="$(now)"
    log="$("${tool}_run" "stream$2" "$STREAM")" || return 1
    t1="$(now)"
    "${tool}_logs" "stream$2" >/dev/null || return 1
    t2="$(now)"
    check_log "$log" || return 1
    [ "$("${tool}_logs" "stream$2" | wc -l)" = "$LINES" ] || { berth_warn "$tool logs: wrong line count"; return 1; }
    log="$("${tool}_run" "burst$2" "$BURST")" || return 1
    check_log "$log" || return 1
    span="$(marker_span "$log")" || return 1
    if [ "$tool" = podman ]; then
        "${PODMAN[@]}" rm -f "stream$2" "burst$2" >/dev/null
    fi
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v s="$span" 'BEGIN { printf "%.6f %.6f %.6f\n", b - a, c - b, s }'
}

declare -A RES
for tool in berth podman; do
    : >"$WORK/$tool.times"
done
for i in $(seq "$RUNS"); do
    for tool in berth podman; do
        berth_log "run $i/$RUNS: $tool, $SIZE_MB MB"
        one "$tool" "$i" >>"$WORK/$tool.times" || berth_die "$tool: a log check failed"
        sync
    done
done
for tool in berth podman; do
    for col in 1 2 3; do
        RES[$tool$col]="$(awk -v mb="$SIZE_MB" -v c="$col" '{ printf "%.1f\n", mb / $c }' "$WORK/$tool.times" | median)"
    done
done

row() {
    printf '%-40s %9s MB/s %7s MB/s %7sx\n' "$1" "${RES[berth$2]}" "${RES[podman$2]}" \
        "$(awk -v a="${RES[berth$2]}" -v b="${RES[podman$2]}" 'BEGIN { printf "%.2f", a / b }')"
}
printf '\n%d MB of %d-byte lines (%d lines), median of %d runs, runtime %s\n' \
    "$SIZE_MB" "$WIDTH" "$LINES" "$RUNS" "$(basename "$RUNTIME")"
printf '%-40s %12s %12s %8s\n' "" "berth" "conmon" "ratio"
row "end to end (run -d .. monitor exit)" 1
row "monitor alone (cat, log times)" 3
row "read back (logs > /dev/null)" 2
echo "every log checked: all $LINES lines, in order, last $LINES"
