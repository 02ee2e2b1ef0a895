#!/usr/bin/env bash
# ThreadSanitizer over brisk's concurrency-heavy tests and the reschedule/steal stress program
# (RELIABILITY.md, "ThreadSanitizer"). Needs a nightly toolchain with rust-src (std is rebuilt
# with the sanitizer: -Zbuild-std). Exits non-zero on any report that the committed
# suppressions (scripts/tsan.supp: crossbeam-deque's benign racy buffer reads only) do not
# cover.
#
#   scripts/tsan.sh              # the set below
#   scripts/tsan.sh --test core  # other cargo test arguments instead of the set
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
# The concurrency-heavy integration tests, and the stress program at a size TSan can run
# (TSan makes the code 5-15x slower).
tests=(--test steal_stress --test miri_core --test core --test stress --test group)
if [ "$#" -gt 0 ]; then
    tests=("$@")
fi

export RUSTFLAGS="-Zsanitizer=thread"
export RUSTDOCFLAGS="-Zsanitizer=thread"
# Own target dir: nothing here may mix with the normal (uninstrumented) build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/tsan}"
# halt_on_error: the first unsuppressed report fails the test binary at once, with its stacks;
# second_deadlock_stack: both stacks for lock-order reports.
export TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export BRISK_STEAL_STRESS_ROUNDS="${BRISK_STEAL_STRESS_ROUNDS:-1000}"

start=$(date +%s)
# --no-fail-fast: every test binary runs, so one report does not hide another binary's.
if cargo +nightly test -Zbuild-std --target "$target" --no-fail-fast -p brisk-tests \
    "${tests[@]}" -- --test-threads 2; then
    echo "tsan: clean in $(($(date +%s) - start)) s"
else
    echo "tsan: FAILED (ThreadSanitizer reports or failing tests above) in $(($(date +%s) - start)) s" >&2
    exit 1
fi
