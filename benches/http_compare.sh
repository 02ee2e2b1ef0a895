#!/usr/bin/env bash
# The HTTP comparison (benches/README.md): installs wrk from the distribution's packages if it
# is missing, raises the open-file limit (1,000 connections on each side), and runs the
# http_compare binary, which serves a hyper hello server on each runtime in turn under the
# same wrk load. Arguments go to the binary (`--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    echo "http_compare.sh: installing wrk (apt-get)" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get install -y wrk >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
cargo build --release -q -p brisk-benches --bin http_compare
exec target/release/http_compare "$@"
