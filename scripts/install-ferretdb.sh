#!/usr/bin/env bash
# Builds FerretDB (MongoDB's wire protocol on SQLite/PostgreSQL) for the MongoDB test suites into GOBIN (else
# GOPATH/bin), once: a binary of the wanted version already there is kept, and Go's module and build caches make a
# rebuild quick.
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@VERSION`: it builds, but the binary panics at
# start ("Invalid build/version/version.txt file content. Please run `bin/task gen-version`"): version.txt is generated
# by FerretDB's own build and is not in the module (v1.24.2 and v1.24.1 alike). So the module is fetched from the
# proxy, copied, given the version.txt its own build would write, and built with `go build`.
set -euo pipefail
version=${1:-v1.24.2}
bin_dir="$(go env GOBIN)"
[ -n "$bin_dir" ] || bin_dir="$(go env GOPATH | cut -d: -f1)/bin"
installed=$("$bin_dir/ferretdb" --version 2>/dev/null || true)
if [ "${installed%%$'\n'*}" = "version: $version" ]; then
  echo "ferretdb $version already in $bin_dir"
  exit 0
fi
module_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$module_dir" ] || { echo "go mod download github.com/FerretDB/FerretDB@$version gave no directory" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$module_dir" "$work/src"
chmod -R u+w "$work/src"
echo "$version" > "$work/src/build/version/version.txt"
mkdir -p "$bin_dir"
(cd "$work/src" && go build -o "$bin_dir/ferretdb.new" ./cmd/ferretdb)
mv "$bin_dir/ferretdb.new" "$bin_dir/ferretdb"
"$bin_dir/ferretdb" --version | head -1
