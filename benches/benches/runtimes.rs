//! Criterion benchmarks: one group per scenario, the four runtimes side by side in each.
//!
//! `cargo bench -p brisk-benches` (HTML reports in `target/criterion/`); a criterion filter
//! selects groups, e.g. `cargo bench -p brisk-benches -- spawn_ready_await`. Worker threads per
//! runtime: `BRISK_BENCH_WORKERS` (default 2). Each
//! criterion iteration is one round of the scenario (its throughput is the ops per round); the
//! time comes from inside the task, as in `compare`.

use std::time::Duration;

use brisk_benches::{measure, AnyRuntime, RuntimeKind, Scenario, Sizes};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn runtimes(c: &mut Criterion) {
    let workers = std::env::var("BRISK_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    // Built once, reused by every group: runtime start-up is not what is measured.
    let rts: Vec<AnyRuntime> = RuntimeKind::ALL
        .into_iter()
        .map(|k| AnyRuntime::build(k, workers).unwrap_or_else(|e| panic!("{k}: {e}")))
        .collect();
    let sizes = Sizes::FULL;
    for scenario in Scenario::ALL {
        let mut group = c.benchmark_group(scenario.name());
        group.throughput(Throughput::Elements(scenario.ops_per_iter(&sizes)));
        for rt in &rts {
            group.bench_function(rt.kind().name(), |b| {
                b.iter_custom(|iters| {
                    measure(rt, scenario, &sizes, iters)
                        .unwrap_or_else(|e| panic!("{scenario} on {}: {e}", rt.kind()))
                        .elapsed
                });
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = runtimes
}
criterion_main!(benches);
