# shellcheck shell=bash
# Shared helpers for Berth's scripts. Source it after `set -euo pipefail`.
#
# Safety rules every script follows (the original repository was lost to an
# `rm -rf "$VAR/x"` with an empty VAR):
#   * every script runs with `set -euo pipefail`;
#   * every rm uses "${VAR:?}" and only removes directories the script created
#     with mktemp (see berth_rm_tmpdir, which refuses anything else);
#   * user-given paths are validated before use.

BERTH_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export BERTH_REPO_ROOT

berth_log()  { printf '==> %s\n' "$*" >&2; }
berth_warn() { printf 'warning: %s\n' "$*" >&2; }
berth_die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

berth_need_root() {
    [ "$(id -u)" -eq 0 ] || berth_die "this script must run as root"
}

# berth_apt_install PKG... : install Debian packages (non-interactive).
berth_apt_install() {
    berth_need_root
    DEBIAN_FRONTEND=noninteractive apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# berth_mktemp_dir PREFIX : create a private temporary directory and print it.
berth_mktemp_dir() {
    local d
    d="$(mktemp -d "${TMPDIR:-/tmp}/${1:?prefix}.XXXXXXXX")"
    chmod 0711 "$d"
    printf '%s\n' "$d"
}

# berth_rm_tmpdir DIR : remove a directory created by berth_mktemp_dir.
# Refuses empty values, "/", and anything that is not directly under $TMPDIR
# (or /tmp). Unmounts anything still mounted below DIR first.
berth_rm_tmpdir() {
    local d="${1:?berth_rm_tmpdir: empty path}"
    local base="${TMPDIR:-/tmp}"
    [ -d "$d" ] || return 0
    d="$(cd "$d" && pwd -P)"
    base="$(cd "$base" && pwd -P)"
    case "$d" in
        "$base"/?*) ;;
        *) berth_warn "refusing to remove $d (not under $base)"; return 1 ;;
    esac
    case "${d#"$base"/}" in
        */*) berth_warn "refusing to remove $d (not a direct child of $base)"; return 1 ;;
    esac
    berth_umount_under "$d"
    rm -rf --one-file-system -- "${d:?}"
}

# berth_umount_under DIR : unmount every mount point at or below DIR, deepest first.
berth_umount_under() {
    local d="${1:?berth_umount_under: empty path}" mp
    # /proc/self/mountinfo field 5 is the mount point (octal-escaped).
    awk -v d="$d" '{ mp=$5; gsub(/\\040/, " ", mp); if (mp == d || index(mp, d "/") == 1) print mp }' \
        /proc/self/mountinfo | sort -r | while IFS= read -r mp; do
        umount -l -- "$mp" 2>/dev/null || true
    done
}

# berth_abs_exe PATH : print the absolute path of an executable file or die.
berth_abs_exe() {
    local p="${1:?path}"
    case "$p" in
        */*) ;;
        *) p="$(command -v -- "$p" 2>/dev/null)" || berth_die "not found in PATH: $1" ;;
    esac
    if [ ! -f "$p" ] || [ ! -x "$p" ]; then berth_die "not an executable file: $1"; fi
    printf '%s/%s\n' "$(cd "$(dirname "$p")" && pwd -P)" "$(basename "$p")"
}

# berth_busybox_rootfs DIR : populate DIR (must exist, empty) with a busybox rootfs.
berth_busybox_rootfs() {
    local r="${1:?rootfs dir}" bb=/bin/busybox d
    [ -x "$bb" ] || berth_die "$bb is missing (apt-get install busybox-static)"
    for d in bin sbin etc proc sys dev tmp root usr/bin usr/sbin var/tmp; do
        mkdir -p "$r/$d"
    done
    cp "$bb" "$r/bin/busybox"
    "$bb" --list | while IFS= read -r d; do
        [ "$d" = busybox ] || ln -sf busybox "$r/bin/$d"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    chmod 1777 "$r/tmp" "$r/var/tmp"
}

# berth_rm_cgroup_parent PATH : remove the cgroup PATH (one component, e.g.
# /berth-demo-123) and the cgroups below it from every hierarchy. Only rmdir:
# a cgroup that still has processes stays, and nothing else is touched.
berth_rm_cgroup_parent() {
    local name="${1:?berth_rm_cgroup_parent: empty path}" c
    name="${name#/}"
    case "$name" in
        ''|*/*|.|..) berth_warn "refusing to remove cgroup /$name"; return 1 ;;
    esac
    for c in /sys/fs/cgroup/ /sys/fs/cgroup/*/; do
        [ -d "$c$name" ] || continue
        find "$c$name" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
}

# berth_is_shim PID : whether PID is a live berth-shim process.
berth_is_shim() {
    local pid="${1:?}" argv0 state
    [ -r "/proc/$pid/cmdline" ] || return 1
    argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)"
    case "$argv0" in */berth-shim|berth-shim) ;; *) return 1 ;; esac
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
    [ -n "$state" ] && [ "$state" != Z ]
}

# berth_stop_containers BERTH : stop and remove every container under
# $BERTH_ROOT (the roots come from the environment, as berth reads them):
# `BERTH rm -f -v`, and where that fails (a broken state), the stopped
# marker (no restart), `RUNTIME --root $BERTH_RUN_ROOT/runtime kill ID KILL` with
# the container's own runtime, a wait for its monitor to finish (SIGKILL after
# 5 s, checked to be berth-shim), and `RUNTIME delete -f` for what is left.
berth_stop_containers() {
    local berth="${1:?berth_stop_containers: berth binary}" dir id rt pid
    [ -d "${BERTH_ROOT:?}/containers" ] || return 0
    for dir in "$BERTH_ROOT"/containers/*/; do
        [ -d "$dir" ] || continue
        id="$(basename "$dir")"
        [[ "$id" =~ ^[0-9a-f]{64}$ ]] || continue
        "$berth" rm -f -v "$id" >/dev/null 2>&1 && continue
        : >"$dir/stopped" 2>/dev/null || true
        rt="$(sed -n 's/^ *"runtime": *"\([^"]*\)",\{0,1\}$/\1/p' "$dir/container.json" 2>/dev/null | tail -n 1)"
        if [ -n "$rt" ]; then
            # SIGKILL; the monitor reaps the container and deletes it from the runtime.
            "$rt" --root "${BERTH_RUN_ROOT:?}/runtime" kill "$id" KILL >/dev/null 2>&1 || true
        fi
        pid="$(cat "${BERTH_RUN_ROOT:?}/$id/shim.pid" 2>/dev/null || true)"
        if [ -n "$pid" ] && berth_is_shim "$pid"; then
            for _ in $(seq 50); do berth_is_shim "$pid" || break; sleep 0.1; done
            if berth_is_shim "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        fi
        if [ -n "$rt" ]; then
            "$rt" --root "${BERTH_RUN_ROOT:?}/runtime" delete -f "$id" >/dev/null 2>&1 || true
        fi
    done
}

# berth_containerd_config DIR : write DIR/config.toml for a private containerd
# (its root, state, sockets and opt dir all under DIR; no CRI plugin), so
# tests and benchmarks never touch the machine's containerd.
berth_containerd_config() {
    local c="${1:?berth_containerd_config: directory}"
    mkdir -p "$c/root" "$c/state"
    cat >"$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
TOML
}
