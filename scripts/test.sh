#!/usr/bin/env bash
# The test command (README "Quick start"; CI runs it through .ci/run):
#   1. apt packages   (skip with BERTH_SKIP_APT=1)
#   2. cargo build --workspace
#   3. cargo test --workspace --no-fail-fast
#   4. conformance/run-engines.sh --quick target/debug/berth-runtime
#                     (skip with BERTH_SKIP_ENGINES=1)
#   5. a fast subset of the OCI runtime-tools validation suite
#                     (skip with BERTH_SKIP_VALIDATION=1; it installs golang-go and the
#                     Go -dev packages and fetches the suite's Debian source package)
# Prints a summary table and exits 1 if any step failed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

berth_need_root
cd "$BERTH_REPO_ROOT"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The packages below are installed: a berth test missing one of its tools fails
# instead of skipping (shim/tests/common: skip_for_tool).
export BERTH_TEST_REQUIRE_TOOLS=1

# Debian 12 package names (checked with apt-cache policy).
PACKAGES=(
    busybox-static runc crun podman conmon containerd skopeo umoci docker-registry
    apache2-utils openssl hyperfine iproute2 containernetworking-plugins uidmap iptables
    util-linux bsdutils golang-github-containers-common build-essential python3
    catatonit nftables procps
)

# The fast subset of the OCI runtime-tools validation suite (docs/conformance.md):
# programs berth-runtime passes that take about a second each and do not depend on
# this host's cgroup controllers, hook timing or capability bounding set.
VALIDATION_FAST=(
    create state kill_no_effect delete_resources default mounts process
    root_readonly_true linux_devices process_rlimits_fail linux_seccomp process_user
)

declare -a STEP_NAMES=() STEP_RESULTS=() STEP_TIMES=()
FAILED=0

# step NAME CMD... : run CMD, record PASS/FAIL and the time it took.
step() {
    local name="$1" start rc
    shift
    berth_log "step: $name"
    start=$SECONDS
    set +e
    "$@"
    rc=$?
    set -e
    STEP_NAMES+=("$name")
    STEP_TIMES+=("$((SECONDS - start))s")
    if [ "$rc" -eq 0 ]; then
        STEP_RESULTS+=("PASS")
    else
        STEP_RESULTS+=("FAIL (exit $rc)")
        FAILED=1
    fi
}

skip() {
    STEP_NAMES+=("$1")
    STEP_RESULTS+=("SKIP ($2)")
    STEP_TIMES+=("-")
}

if [ "${BERTH_SKIP_APT:-0}" = 1 ]; then
    skip "apt packages" "BERTH_SKIP_APT=1"
else
    step "apt packages" berth_apt_install "${PACKAGES[@]}"
fi

if ! command -v cargo >/dev/null; then
    berth_die "cargo is not installed (install a Rust toolchain >= 1.80, e.g. with rustup)"
fi

step "cargo build --workspace" cargo build --workspace
step "cargo test --workspace" cargo test --workspace --no-fail-fast

if [ "${BERTH_SKIP_ENGINES:-0}" = 1 ]; then
    skip "engines (podman, containerd)" "BERTH_SKIP_ENGINES=1"
elif [ ! -x target/debug/berth-runtime ]; then
    STEP_NAMES+=("engines (podman, containerd)")
    STEP_RESULTS+=("FAIL (no target/debug/berth-runtime)")
    STEP_TIMES+=("-")
    FAILED=1
else
    step "engines (podman, containerd)" \
        bash conformance/run-engines.sh --quick target/debug/berth-runtime
fi

if [ "${BERTH_SKIP_VALIDATION:-0}" = 1 ]; then
    skip "oci validation (fast subset)" "BERTH_SKIP_VALIDATION=1"
else
    step "oci validation (fast subset)" \
        bash conformance/run-validation.sh target/debug/berth-runtime \
        --only "${VALIDATION_FAST[@]}" --timeout 60
fi

printf '\n%-34s %-36s %s\n' "STEP" "RESULT" "TIME"
for i in "${!STEP_NAMES[@]}"; do
    printf '%-34s %-36s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_TIMES[$i]}"
done
if [ "$FAILED" -ne 0 ]; then
    printf '\nsome steps failed\n'
    exit 1
fi
printf '\nall steps passed\n'
