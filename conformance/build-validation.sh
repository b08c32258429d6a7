#!/usr/bin/env bash
# Build the OCI runtime-tools validation suite offline from Debian packages.
#
# Usage: conformance/build-validation.sh [--no-apt] [--cache DIR] [PROGRAM...]
#   --no-apt    do not apt-get install the Go toolchain and -dev packages (already there)
#   --cache DIR build cache (default: target/conformance under the repository root)
#   PROGRAM     build only these validation programs (default: all of validation/*/)
#
# Steps, each skipped when its output already exists:
#   1. apt-get install golang-go and the Go -dev packages the suite imports.
#   2. Fetch the runtime-tools source (Debian source package
#      golang-github-opencontainers-runtime-tools, version $RT_VERSION: the bookworm -dev
#      package lacks validation/ and cmd/). The archive address is read from this machine's
#      apt sources; the Sources index of $RT_SUITE is fetched with a private apt config
#      under $CACHE/apt (signed by the Debian archive keyring) and the orig tarball's
#      SHA-256 is checked against it.
#   3. Build runtimetest (static) and the validation programs (validation/*/) with
#      GO111MODULE=off, GOPROXY=off and a GOPATH of the fetched source, conformance/gostub
#      (a stand-in for the unpackaged github.com/mndrix/tap-go) and /usr/share/gocode.
#   4. Build rootfs-amd64.tar.gz (busybox-static) that the suite unpacks into each bundle.
# Output: $CACHE/bin/{runtimetest,rootfs-amd64.tar.gz,<program>...}. Needs root for apt.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/lib/common.sh
. "$HERE/../scripts/lib/common.sh"
ROOT=$BERTH_REPO_ROOT

RT_SRC=golang-github-opencontainers-runtime-tools
RT_VERSION=0.9.0.109.ge931285
RT_SUITE=trixie
APT=1 CACHE=$ROOT/target/conformance WANT=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-apt) APT=0; shift ;;
        --cache) CACHE=${2:?}; shift 2 ;;
        -h | --help) sed -n '4,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) berth_die "unknown option: $1" ;;
        *) WANT+=("$1"); shift ;;
    esac
done
[[ -e $CACHE && ! -d $CACHE ]] && berth_die "--cache $CACHE is not a directory"
mkdir -p -- "$CACHE"
CACHE=$(cd -- "$CACHE" && pwd)
[[ -n $CACHE && $CACHE != / ]] || berth_die "bad cache directory"

GO_PACKAGES=(
    golang-go golang-github-opencontainers-runtime-tools-dev golang-github-google-uuid-dev
    golang-github-mrunalp-fileutils-dev golang-github-urfave-cli-dev golang-gocapability-dev
    golang-github-xeipuuv-gojsonschema-dev golang-github-opencontainers-specs-dev
    golang-github-hashicorp-go-multierror-dev golang-github-blang-semver-dev
    golang-github-sirupsen-logrus-dev golang-github-opencontainers-selinux-dev
    busybox-static curl ca-certificates xz-utils
)

# 1. packages
if [[ $APT == 1 ]]; then
    missing=()
    for p in "${GO_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        [[ $(id -u) -eq 0 ]] || berth_die "missing packages (${missing[*]}) and not root to install them"
        berth_log "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q "${missing[@]}"
    fi
fi
command -v go >/dev/null || berth_die "go not found (install golang-go)"

# 2. source
SRC_DIR=${CACHE:?}/gopath/src/github.com/opencontainers/runtime-tools
ORIG=${RT_SRC}_${RT_VERSION}.orig.tar.xz
if [[ ! -f $SRC_DIR/.berth-unpacked ]]; then
    # The Debian mirror this machine's apt uses (first deb822 URIs or one-line deb entry).
    mirror=$(
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
            awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }'
    ) || true
    if [[ -z $mirror ]]; then
        mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }') || true
    fi
    [[ -n $mirror ]] || berth_die "no Debian archive found in /etc/apt/sources.list{,.d}"
    mirror=${mirror%/}
    berth_log "runtime-tools source: $RT_SRC $RT_VERSION ($RT_SUITE) from $mirror"
    A=$CACHE/apt
    mkdir -p "$A"/lists/partial "$A"/cache/archives/partial "$A"/parts "$A"/dl
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $RT_SUITE main" >"$A/sources.list"
    cat >"$A/apt.conf" <<CONF
Dir::Etc::sourcelist "$A/sources.list";
Dir::Etc::sourceparts "$A/parts";
Dir::State::Lists "$A/lists";
Dir::Cache "$A/cache";
APT::Sandbox::User "root";
CONF
    export APT_CONFIG=$A/apt.conf
    apt-get update -q >/dev/null
    stanza=$(apt-cache showsrc "$RT_SRC" |
        awk -v v="$RT_VERSION-" -v RS= 'index($0, "\nVersion: " v) { print; exit }')
    [[ -n $stanza ]] || berth_die "$RT_SRC $RT_VERSION not in the $RT_SUITE Sources index"
    dir=$(awk '/^Directory:/ { print $2 }' <<<"$stanza")
    sum=$(awk -v f="$ORIG" '/^Checksums-Sha256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == f { print $1 }' <<<"$stanza")
    [[ -n $dir && -n $sum ]] || berth_die "no directory or SHA-256 for $ORIG in the Sources index"
    ver=$(awk '/^Version:/ { print $2; exit }' <<<"$stanza")
    if ! echo "$sum  $A/dl/$ORIG" | sha256sum -c --status 2>/dev/null; then
        # apt's own client fetches the source package from the archive. Some mirrors do not
        # serve the .dsc (apt then reports a failure): what counts is the orig tarball,
        # checked against the Sources index right below.
        (cd "$A/dl" && apt-get source --download-only -q "$RT_SRC=$ver" >/dev/null 2>&1) || true
    fi
    unset APT_CONFIG
    echo "$sum  $A/dl/$ORIG" | sha256sum -c --quiet || berth_die "SHA-256 mismatch for $ORIG"
    berth_log "verified $ORIG sha256 $sum"
    rm -rf -- "${SRC_DIR:?}"
    mkdir -p "$SRC_DIR"
    tar -xJf "$A/dl/$ORIG" -C "$SRC_DIR" --strip-components=1
    touch "$SRC_DIR/.berth-unpacked"
fi

# 3. programs
BIN=$CACHE/bin
mkdir -p "$BIN"
export GO111MODULE=off GOPROXY=off GOFLAGS='' GOTOOLCHAIN=local
export GOPATH=$CACHE/gopath:$HERE/gostub:/usr/share/gocode GOCACHE=$CACHE/gocache
cd "$SRC_DIR"
if [[ ! -x $BIN/runtimetest ]]; then
    berth_log "building runtimetest (static)"
    CGO_ENABLED=0 go build -o "$BIN/runtimetest.tmp" ./cmd/runtimetest
    mv "$BIN/runtimetest.tmp" "$BIN/runtimetest"
fi
for d in validation/*/; do
    d=${d%/}
    [[ ${d#validation/} == util ]] || echo "${d#validation/}"
done >"$CACHE/programs.txt"
if [[ ${#WANT[@]} -eq 0 ]]; then mapfile -t WANT <"$CACHE/programs.txt"; fi
built=0
for name in "${WANT[@]}"; do
    grep -qx -- "$name" "$CACHE/programs.txt" || berth_die "no such validation program: $name"
    [[ -x $BIN/$name ]] && continue
    go build -o "$BIN/$name.tmp" "./validation/$name"
    mv "$BIN/$name.tmp" "$BIN/$name"
    built=$((built + 1))
done
berth_log "${#WANT[@]} of $(wc -l <"$CACHE/programs.txt") validation programs ready ($built built now) in $BIN"

# 4. rootfs
if [[ ! -f $BIN/rootfs-amd64.tar.gz ]]; then
    r=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    berth_busybox_rootfs "$r"
    tar -czf "$BIN/rootfs-amd64.tar.gz.tmp" -C "$r" .
    rm -rf -- "${r:?}"
    mv "$BIN/rootfs-amd64.tar.gz.tmp" "$BIN/rootfs-amd64.tar.gz"
    berth_log "built $BIN/rootfs-amd64.tar.gz from /bin/busybox"
fi
