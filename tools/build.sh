#!/usr/bin/env bash
# Builds the test bed's tools from Go modules into a cache outside the repository.
#
#   tools/build.sh            build every missing tool (a warm cache takes seconds)
#   tools/build.sh NAME...    build only these (pulumi pulumi-language-nodejs kubernetes-provider atlas etcd kwok control-plane kubectl actionlint act)
#   tools/build.sh --bin-dir  print the folder to put on PATH (resource plugins are in ../plugins)
#
# Each tool lands in $TOOLS_CACHE/<name>-<key>/bin, where <key> is derived from the pinned
# versions in tools/versions.env, so changing one version rebuilds only that tool.
# A tool you already have at the pinned version can be used instead: set
# <NAME>_BIN_DIR (e.g. PULUMI_BIN_DIR=/usr/local/pulumi) and the script links it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

export TOOLS_CACHE=${TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/developers-italia-deploy/tools}
# The module proxy is the environment's own (go env GOPROXY); none is named here.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
export CGO_ENABLED=0
BIN_DIR=$TOOLS_CACHE/bin
PLUGIN_DIR=$TOOLS_CACHE/plugins
LDFLAGS_BASE="-s -w"

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# scratch NAME: a fresh scratch module folder for NAME, echoed.
scratch() {
  local dir=$TOOLS_CACHE/scratch/$1
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && go mod init "local/$1" >/dev/null 2>&1)
  echo "$dir"
}

# --- one function per tool: build into $1 (a bin folder) -------------------------------

build_pulumi() {
  local dir v=$PULUMI_VERSION; dir=$(scratch pulumi)
  cd "$dir"
  # pkg/v3 points sdk/v3 at ../sdk and swaps a clipboard fork in; mirror both here.
  go mod edit -require "github.com/pulumi/pulumi/pkg/v3@v$v" -require "github.com/pulumi/pulumi/sdk/v3@v$v" \
    -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
  go mod download "github.com/pulumi/pulumi/pkg/v3@v$v"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >tools.go
  go mod tidy
  go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "$LDFLAGS_BASE -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
    -o "$1/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_pulumi_language_nodejs() {
  # The language host has been its own, never-tagged module since v3.69; the proxy here
  # serves none of its pseudo-versions. v3.68.0 is the newest sdk/v3 release that still
  # contains it. It only launches `node @pulumi/pulumi/cmd/run`, so it drives today's SDK.
  local dir v=$PULUMI_LANGUAGE_NODEJS_VERSION; dir=$(scratch pulumi-language-nodejs)
  cd "$dir"
  go mod edit -require "github.com/pulumi/pulumi/sdk/v3@v$v" -replace golang.org/x/text=golang.org/x/text@v0.3.6
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"\n' >tools.go
  go mod tidy
  go build -trimpath -ldflags "$LDFLAGS_BASE -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
    -o "$1/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
}

build_kubernetes_provider() {
  local dir v=$PULUMI_KUBERNETES_VERSION; dir=$(scratch kubernetes-provider)
  cd "$dir"
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  go mod edit -require "$mod@$PULUMI_KUBERNETES_PROVIDER_PSEUDO" \
    -require "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_KUBERNETES_SDK_GO"
  local src; src=$(go mod download -json "$mod@$PULUMI_KUBERNETES_PROVIDER_PSEUDO" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  # The upstream main embeds files its Makefile generates; generate them the same way
  # (generate.go stamps the version into the schema) and build that main from here.
  mkdir -p cmd && cp "$src"/cmd/pulumi-resource-kubernetes/*.go "$src"/cmd/pulumi-resource-kubernetes/*.json cmd/
  chmod -R u+w cmd
  go mod tidy
  (cd cmd && VERSION=$v go run generate.go)
  rm cmd/generate.go
  go mod tidy
  go build -trimpath -ldflags "$LDFLAGS_BASE -X $mod/pkg/version.Version=$v" -o "$1/pulumi-resource-kubernetes" ./cmd
}

build_atlas() {
  local dir; dir=$(scratch atlas)
  cd "$dir"
  # Atlas 0.13's golang.org/x/tools (via ent) does not compile with Go 1.26; its
  # go/packages API is stable, so a current x/tools stands in. lib/pq is the version
  # production's Atlas image links, so the test bed's Job connects as production's does.
  go mod edit -require "ariga.io/atlas/cmd/atlas@v$ATLAS_VERSION" -require "ariga.io/atlas@$ATLAS_LIB_VERSION" \
    -require "golang.org/x/tools@$ATLAS_X_TOOLS" -require "github.com/lib/pq@$ATLAS_LIB_PQ_VERSION"
  patch_atlas_for_pg16 "$ATLAS_LIB_VERSION" "$dir/atlas-lib"
  go mod edit -replace "ariga.io/atlas=./atlas-lib"
  printf '//go:build tools\n\npackage tools\n\nimport _ "ariga.io/atlas/cmd/atlas"\n' >tools.go
  go mod tidy
  go build -trimpath -ldflags "$LDFLAGS_BASE -X ariga.io/atlas/cmd/atlas/internal/cmdapi.version=v$ATLAS_VERSION -X ariga.io/atlas/cmd/atlas/internal/cmdapi.flavor=community" \
    -o "$1/atlas" ariga.io/atlas/cmd/atlas
}

# patch_atlas_for_pg16 VERSION DEST: a copy of ariga.io/atlas@VERSION in DEST whose
# PostgreSQL driver reads the database's collation and ctype from pg_database, as Atlas
# 0.14.1 does: PostgreSQL 16 removed lc_collate and lc_ctype from pg_settings, and 0.13.1's
# query then returns one row too few ("postgres: unexpected number of rows: 1"). The rows
# keep the order Open reads them in (name descending: version, ctype, collate).
patch_atlas_for_pg16() {
  local src; src=$(go mod download -json "ariga.io/atlas@$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  cp -r "$src" "$2" && chmod -R u+w "$2"
  local file=$2/sql/postgres/inspect.go
  local old="paramsQuery = \`SELECT setting FROM pg_settings WHERE name IN ('lc_collate', 'lc_ctype', 'server_version_num', 'crdb_version') ORDER BY name DESC\`"
  local new="paramsQuery = \`SELECT setting FROM (SELECT name, setting FROM pg_settings WHERE name IN ('server_version_num', 'crdb_version') UNION ALL SELECT 'lc_ctype', datctype::text FROM pg_database WHERE datname = current_database() UNION ALL SELECT 'lc_collate', datcollate::text FROM pg_database WHERE datname = current_database()) AS params ORDER BY name DESC\`"
  grep -qF "$old" "$file" || { echo "patch_atlas_for_pg16: paramsQuery not found as expected in $file" >&2; return 1; }
  OLD=$old NEW=$new perl -0pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/' "$file"
  grep -qF "$new" "$file"
}

build_etcd() {
  local dir; dir=$(scratch etcd)
  cd "$dir"
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$1/etcd" go.etcd.io/etcd/server/v3
}

build_actionlint() {
  # Lints .github/workflows in npm test (scripts/test.sh); not a part of the test bed.
  GOBIN=$1 go install -trimpath -ldflags "$LDFLAGS_BASE" \
    "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
}

build_act() {
  # nektos/act runs .github/workflows in npm test (test/e2e/workflows.test.ts), in host mode:
  # steps run on this machine, no container engine. Its version stamp is main.version.
  GOBIN=$1 go install -trimpath -ldflags "$LDFLAGS_BASE -X main.version=$ACT_VERSION" \
    "github.com/nektos/act@v$ACT_VERSION"
}

build_kwok() {
  GOBIN=$1 go install -trimpath -ldflags "$LDFLAGS_BASE" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
}

build_control_plane() {
  local dir v=$KUBERNETES_VERSION; dir=$(scratch control-plane)
  cd "$dir"
  local mod; mod=$(go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 through relative replaces,
  # which a dependent module ignores: pin each one to the matching published release.
  {
    grep '^godebug' "$mod" || true
    echo "require k8s.io/kubernetes v$v"
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$mod" |
      while read -r m; do echo "replace $m => $m v0.${v#1.}"; done
  } >>go.mod
  local date; date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local x=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(echo "$v" | cut -d. -f2)"
    x+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
EOF
  go mod tidy
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    log "control-plane: building $c"
    go build -trimpath -ldflags "$LDFLAGS_BASE $x" -o "$1/$c" "k8s.io/kubernetes/cmd/$c"
  done
}

build_kubectl() {
  # Not needed by the tests; it is how a person looks at the local cluster.
  local dir v=$KUBERNETES_VERSION; dir=$(scratch kubectl)
  cd "$dir"
  go mod edit -require "k8s.io/kubectl@v0.${v#1.}" -require "k8s.io/component-base@v0.${v#1.}"
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubectl/pkg/cmd"\n' >tools.go
  mkdir -p cmd && cat >cmd/main.go <<'EOF2'
// kubectl's own main (k8s.io/kubernetes/cmd/kubectl) is two lines around this call.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() { cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()) }
EOF2
  go mod tidy
  local x="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(echo "$v" | cut -d. -f2) -X $pkg.gitTreeState=clean"
  done
  go build -trimpath -ldflags "$LDFLAGS_BASE $x" -o "$1/kubectl" ./cmd
}

# --- driver ----------------------------------------------------------------------------

ALL_TOOLS=(pulumi pulumi-language-nodejs kubernetes-provider atlas etcd kwok control-plane kubectl actionlint act)

key_of() {
  case $1 in
    pulumi) echo "$PULUMI_VERSION" ;;
    pulumi-language-nodejs) echo "$PULUMI_LANGUAGE_NODEJS_VERSION" ;;
    kubernetes-provider) echo "$PULUMI_KUBERNETES_VERSION-${PULUMI_KUBERNETES_PROVIDER_PSEUDO##*-}" ;;
    atlas) echo "$ATLAS_VERSION-lib-$ATLAS_LIB_VERSION-tools-$ATLAS_X_TOOLS-pq-$ATLAS_LIB_PQ_VERSION-pg16-$ATLAS_PG16_PATCH" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    control-plane | kubectl) echo "$KUBERNETES_VERSION" ;;
    actionlint) echo "$ACTIONLINT_VERSION" ;;
    act) echo "$ACT_VERSION" ;;
    *) echo "unknown tool '$1' (known: ${ALL_TOOLS[*]})" >&2; return 2 ;;
  esac
}

ensure() {
  local name=$1 key dest override
  key=$(key_of "$name")
  dest=$TOOLS_CACHE/$name-$key
  override=$(echo "${name}_BIN_DIR" | tr 'a-z-' 'A-Z_')
  if [ -n "${!override:-}" ]; then
    log "$name: using ${!override} (from \$$override)"
    link_into_bin "${!override}"
    return 0
  fi
  if [ -f "$dest/.done" ]; then
    link_into_bin "$dest/bin"
    return 0
  fi
  log "$name $key: building into $dest"
  local start=$SECONDS
  rm -rf "$dest" && mkdir -p "$dest/bin"
  # In the background, not in an `if`: bash ignores `set -e` inside a tested command, which
  # would let a failed step run on into the next one.
  local status=0
  (
    set -e
    # Each go command is a step; the last one recorded is the one that failed.
    go() { printf 'go %s\n' "$*" | cut -c1-200 >"$dest/.step"; command go "$@"; }
    "build_${name//-/_}" "$dest/bin"
  ) >"$dest/build.log" 2>&1 &
  wait $! || status=$?
  if [ "$status" -ne 0 ]; then
    log "$name $key: FAILED after $((SECONDS - start)) s at step: $(cat "$dest/.step" 2>/dev/null || echo "(before any go command)")"
    log "last lines of $dest/build.log:"
    tail -n 25 "$dest/build.log" >&2
    return 1
  fi
  rm -f "$dest/.step"
  echo "$((SECONDS - start))" >"$dest/.done"
  log "$name $key: built in $((SECONDS - start)) s"
  link_into_bin "$dest/bin"
}

link_into_bin() {
  mkdir -p "$BIN_DIR"
  local f
  # Resource plugins are registered with Pulumi (scripts/pulumi-plugins.sh), not put on
  # PATH, where the engine would prefer them with a warning in every preview.
  mkdir -p "$PLUGIN_DIR"
  for f in "$1"/*; do
    case $(basename "$f") in
      pulumi-resource-*) ln -sfn "$f" "$PLUGIN_DIR/$(basename "$f")" && rm -f "$BIN_DIR/$(basename "$f")" ;;
      *) ln -sfn "$f" "$BIN_DIR/$(basename "$f")" ;;
    esac
  done
  # The CLI wants its language host next to its own (resolved) binary, not on PATH (it
  # works from PATH, but warns in every preview).
  local host=$BIN_DIR/pulumi-language-nodejs
  if [ -e "$BIN_DIR/pulumi" ] && [ -e "$host" ]; then
    language_host_wrapper "$(readlink -f "$host")" >"$host.new"
    chmod +x "$host.new"
    mv -f "$host.new" "$(dirname "$(readlink -f "$BIN_DIR/pulumi")")/pulumi-language-nodejs"
    rm -f "$host"
  fi
}

# Host 3.68 reads the project's runtime options only as flags, which the CLI of its day
# passed; today's CLI sends them in the run request, which 3.68 ignores: it would load ts-node
# for every program, `typescript: false` or not, and drop `nodeargs`. The wrapper
# (tools/language-host.sh) passes both options as flags again (Pulumi.yaml found from the
# directory the CLI starts the host in, a plain or double-quoted `nodeargs`), as a current host
# reads them from the request.
language_host_wrapper() {
  sed "s|@HOST@|$1|" "$here/language-host.sh"
}

main() {
  if [ "${1:-}" = "--bin-dir" ]; then echo "$BIN_DIR"; return 0; fi
  local tools=("$@")
  [ ${#tools[@]} -gt 0 ] || tools=("${ALL_TOOLS[@]}")
  mkdir -p "$TOOLS_CACHE"
  local t failed=()
  for t in "${tools[@]}"; do key_of "$t" >/dev/null; done
  for t in "${tools[@]}"; do ensure "$t" || failed+=("$t"); done
  if [ ${#failed[@]} -gt 0 ]; then
    log "failed: ${failed[*]}"
    return 1
  fi
}

main "$@"
