#!/usr/bin/env bash
# The mutation check of the fairness properties (tests/README.md, docs/FAIRNESS.md): builds the
# scheduler with each deliberate bug of the list below (`cfg(brisk_mutant = "name")`, set by
# runtime/build.rs from BRISK_MUTANT) and runs tests/tests/fairness.rs against it. Each mutant
# must make at least one property fail; the script prints, per mutant, the failing tests, and
# exits non-zero if some mutant survives (every test passes) or if the unmutated build fails.
#
#   scripts/mutants.sh                      # every mutant
#   scripts/mutants.sh slot_uncapped ...    # only these
#
# Only brisk and the crates above it are rebuilt per mutant (the cfg comes from a build-script
# environment variable, not RUSTFLAGS). Failing proptest cases are not shrunk and not saved.
set -uo pipefail
cd "$(dirname "$0")/.."

all=(
    budget_not_reset       # context.rs: the eager budget is not reset at a tick
    depth_not_decremented  # context.rs: leaving an inline poll keeps its depth
    no_global_interval     # worker.rs: the injector is never checked first
    slot_not_stealable     # worker.rs: thieves skip the next-task slots
    slot_uncapped          # worker.rs: no cap on slot polls in a row
    batch_untraced         # worker.rs: batch steals move tasks without trace events
    no_yield_defer         # worker.rs: yield_now requeues at once
    no_driver_turn         # worker.rs: busy workers never turn the driver
    driver_turn_ticks_only # worker.rs: inline polls do not count toward a driver turn
    doze_forever           # worker.rs: a dozing worker sleeps without its timeout
    doze_always            # worker.rs: a worker dozes again though nothing was owed to it
)
mutants=("${@:-${all[@]}}")
if [ "$#" -eq 0 ]; then mutants=("${all[@]}"); fi

export PROPTEST_MAX_SHRINK_ITERS=0
regressions=tests/tests/fairness.proptest-regressions
saved=$(mktemp)
cp "$regressions" "$saved"
trap 'cp "$saved" "$regressions"; rm -f "$saved"' EXIT

run() {
    BRISK_MUTANT="$1" cargo test -q -p brisk-tests --test fairness -- --test-threads 2 2>&1
}

echo "== unmutated"
if ! out=$(run ""); then
    echo "$out" | tail -20
    echo "the unmutated build fails: fix that first"
    exit 2
fi
survivors=()
for m in "${mutants[@]}"; do
    echo "== $m"
    out=$(run "$m")
    failed=$(echo "$out" | grep -E '^test .* FAILED$|^    [a-z0-9_]+$' | sed 's/^test //; s/ \.\.\. FAILED//; s/^ *//' | sort -u | tr '\n' ' ')
    if [ -z "$failed" ]; then
        echo "   SURVIVED: every property passed"
        survivors+=("$m")
    else
        echo "   killed by: $failed"
        echo "$out" | grep -E 'F[0-9]+[ /a-zA-Z]*:' | head -2 | cut -c1-200 | sed 's/^/   /'
    fi
    cp "$saved" "$regressions"
done
BRISK_MUTANT="" cargo build -q -p brisk-tests --tests >/dev/null 2>&1 || true
if [ "${#survivors[@]}" -gt 0 ]; then
    echo "survivors: ${survivors[*]}"
    exit 1
fi
echo "every mutant was killed"
