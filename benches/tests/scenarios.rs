//! Every scenario once on every runtime, at tiny sizes, checking results: catches a broken
//! scenario (or runtime) quickly, without timing anything.

use brisk_benches::{expected, measure, AnyRuntime, RuntimeKind, Scenario, Sizes, Summary};

#[test]
fn every_scenario_runs_and_checks_on_every_runtime() {
    for kind in RuntimeKind::ALL {
        let rt = AnyRuntime::build(kind, 2).unwrap();
        assert_eq!(rt.kind(), kind);
        for scenario in Scenario::ALL {
            let sample = measure(&rt, scenario, &Sizes::TINY, 2)
                .unwrap_or_else(|e| panic!("{scenario} on {kind}: {e}"));
            assert_eq!(sample.iters, 2);
            assert_eq!(sample.ops, 2 * scenario.ops_per_iter(&Sizes::TINY));
        }
    }
}

#[test]
fn full_size_trees_check_on_every_runtime() {
    let sizes = Sizes::FULL;
    for kind in RuntimeKind::ALL {
        let rt = AnyRuntime::build(kind, 2).unwrap();
        for scenario in [
            Scenario::AsyncTree(brisk_benches::Leaf::None),
            Scenario::AsyncTree(brisk_benches::Leaf::Memo(brisk_benches::Miss::Channel)),
        ] {
            measure(&rt, scenario, &sizes, 1)
                .unwrap_or_else(|e| panic!("{scenario} on {kind}: {e}"));
        }
    }
}

#[test]
fn sizes_are_those_of_issue_6() {
    let s = Sizes::FULL;
    assert_eq!(s.tree_nodes(), 55_987);
    assert_eq!(s.tree_leaves(), 46_656);
    assert_eq!(Scenario::GatherMostlyReady.ops_per_iter(&s), 1_000);
    assert_eq!(Scenario::YieldMany.ops_per_iter(&s), 200_000);
}

#[test]
fn checksums_depend_on_the_work_done() {
    for scenario in Scenario::ALL {
        let one = expected(scenario, &Sizes::TINY, 1);
        let two = expected(scenario, &Sizes::TINY, 2);
        assert_ne!(
            one, two,
            "{scenario}: a run of 2 must not check like a run of 1"
        );
        assert_ne!(one, 0, "{scenario}: a run that did nothing must not check");
    }
}

#[test]
fn names_round_trip_and_are_unique() {
    for s in Scenario::ALL {
        assert_eq!(Scenario::from_name(s.name()), Some(s));
    }
    let mut names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Scenario::ALL.len());
}

#[test]
fn summary_is_median_min_max() {
    let s = Summary::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
    assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
    assert_eq!(Summary::of(&[5.0]).unwrap().median, 5.0);
    assert!(Summary::of(&[]).is_none());
}

#[test]
fn fairness_workload_runs_and_checks_on_every_runtime() {
    use brisk_benches::fairness::{fairness_run, quantile, FairnessConfig};
    let storm = FairnessConfig {
        ticks: 8,
        storm_tasks: 2,
        burst: 50,
        child_work: 10,
        burst_work: 100,
        ..FairnessConfig::STORM
    };
    for kind in RuntimeKind::ALL {
        let rt = AnyRuntime::build(kind, 2).unwrap();
        for cfg in [storm.idle(), storm] {
            let s = fairness_run(&rt, cfg).unwrap_or_else(|e| panic!("fairness on {kind}: {e}"));
            assert_eq!(s.lateness.len(), 8);
            assert!(
                s.elapsed >= cfg.period * 8,
                "{kind}: the heartbeat ran early"
            );
            if cfg.storm_tasks == 0 {
                assert_eq!(s.children, 0);
            } else {
                assert!(
                    s.children >= 2 * 50,
                    "{kind}: every storm task runs a burst"
                );
                assert_eq!(s.children % 50, 0, "{kind}: whole bursts only");
            }
        }
    }
    let mut v: Vec<_> = (1..=100).map(std::time::Duration::from_micros).collect();
    v.sort_unstable();
    assert_eq!(quantile(&v, 0.5), std::time::Duration::from_micros(50));
    assert_eq!(quantile(&v, 0.99), std::time::Duration::from_micros(99));
    assert_eq!(quantile(&v, 1.0), std::time::Duration::from_micros(100));
}
