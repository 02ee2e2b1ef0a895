#!/usr/bin/env bash
# Miri (Tree Borrows) over brisk's task core (RELIABILITY.md, "Miri"):
# - tests/tests/miri_core.rs: spawn, join, abort, eager completion and suspension,
#   await-inlining with stale queue entries, self-waking tasks stolen by a second worker,
#   TaskGroup, spawn_blocking, panics in futures, outputs and destructors, handles and
#   wakers outliving the runtime;
# - tests/tests/steal_stress.rs at Miri size (one round of 16 tasks);
# - tests/tests/miri_misuse.rs: `EnterGuard` misuse from safe code, one test per Miri run
#   (Miri stops a test binary at its first report, which must not hide the others).
# Needs a nightly toolchain with the miri component. Exits non-zero on any Miri report
# (undefined behaviour, data race) or failing test, after running everything.
#
#   scripts/miri.sh                     # seeds 0..MIRI_SEEDS (default 2) for each binary
#   MIRI_SEEDS=16 scripts/miri.sh       # more thread schedules
set -euo pipefail
cd "$(dirname "$0")/.."

# -Zmiri-tree-borrows: crossbeam-epoch (under crossbeam-deque, brisk's queues) violates
#   Stacked Borrows in its own code; Tree Borrows accepts it and still checks brisk's
#   references (a `&` to a task cell used after another thread freed or rewrote it is UB).
# -Zmiri-permissive-provenance: crossbeam-epoch keeps tagged pointers as integers; without it
#   Miri warns at each int-to-pointer cast.
# -Zmiri-ignore-leaks: crossbeam-epoch's global collector keeps deferred garbage (and each
#   exited thread's `Local`) behind tagged integers that Miri cannot trace, so every run
#   "leaks" a few of its blocks. Leaks of brisk's own memory are checked natively by
#   tests/tests/leak.rs (exact allocation counts).
# -Zmiri-many-seeds: run each test binary under several thread schedules (Miri's scheduler
#   is seeded; each seed preempts threads at other points).
# Isolation stays on: the runtime needs no file system or real clock (Miri's monotonic clock
# is virtual), and mio's epoll and eventfd, which every brisk runtime creates, are
# emulated by Miri without it. Under isolation the program sees no environment variable
# unless forwarded (-Zmiri-env-forward): the stress size below must be.
seeds="${MIRI_SEEDS:-2}"
export MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-permissive-provenance -Zmiri-ignore-leaks -Zmiri-many-seeds=0..$seeds -Zmiri-env-forward=BRISK_STEAL_STRESS_ROUNDS -Zmiri-env-forward=BRISK_STEAL_STRESS_TASKS ${MIRIFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/miri}"
export BRISK_STEAL_STRESS_ROUNDS="${BRISK_STEAL_STRESS_ROUNDS:-1}"
export BRISK_STEAL_STRESS_TASKS="${BRISK_STEAL_STRESS_TASKS:-16}"

start=$(date +%s)
failed=()
cargo +nightly miri test --no-fail-fast -p brisk-tests --test miri_core --test steal_stress \
    || failed+=("miri_core/steal_stress")
misuse=$(cargo +nightly miri test -p brisk-tests --test miri_misuse -- --list --format terse \
    2>/dev/null | sed -n 's/: test$//p' | sort -u)
[ -n "$misuse" ] || { echo "miri: no tests listed in miri_misuse.rs" >&2; exit 1; }
for t in $misuse; do
    cargo +nightly miri test -p brisk-tests --test miri_misuse -- --exact "$t" \
        || failed+=("miri_misuse::$t")
done
took=$(($(date +%s) - start))
if [ "${#failed[@]}" -gt 0 ]; then
    echo "miri: FAILED (${failed[*]}) in $took s (seeds 0..$seeds)" >&2
    exit 1
fi
echo "miri: clean in $took s (seeds 0..$seeds)"
