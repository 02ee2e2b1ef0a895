//! `#[brisk::test]` (and so the expansion `#[brisk::main]` shares) on the real runtime: the
//! defaults (current-thread, eager), the `flavor` option, each option reaching the `Builder`, `Result`-returning tests with `?`, and
//! `#[should_panic]`.

use brisk::task::{spawn_blocking, TaskGroup};
use brisk::Handle;

#[brisk::test]
async fn default_is_current_thread_and_eager() {
    let metrics = Handle::current().metrics();
    assert_eq!(metrics.num_workers(), 1);
    let child = brisk::spawn(async { 1 });
    assert!(child.is_finished(), "the default policy is eager-first");
    assert_eq!(child.await.unwrap(), 1);
    assert_eq!(metrics.eager_completed(), 1);
    // A task resumed by a timer (so from the queue, not inline) runs on the test's thread.
    let me = std::thread::current().id();
    let ran_on = brisk::spawn(async {
        brisk::time::sleep(std::time::Duration::from_millis(1)).await;
        std::thread::current().id()
    });
    assert_eq!(ran_on.await.unwrap(), me);
}

#[brisk::test(flavor = "multi_thread")]
async fn multi_thread_flavor_has_two_workers() {
    assert_eq!(Handle::current().metrics().num_workers(), 2);
}

#[brisk::test(flavor = "multi_thread", worker_threads = 3)]
async fn multi_thread_flavor_with_workers() {
    assert_eq!(Handle::current().metrics().num_workers(), 3);
}

#[brisk::test(worker_threads = 1, spawn_policy = "lazy")]
async fn options_reach_the_builder() {
    let metrics = Handle::current().metrics();
    assert_eq!(metrics.num_workers(), 1);
    let mut group = TaskGroup::new();
    for i in 0..8 {
        group.spawn(async move { i });
    }
    assert_eq!(group.join_all().await, (0..8).collect::<Vec<_>>());
    assert_eq!(metrics.eager_completed() + metrics.eager_suspended(), 0);
}

#[brisk::test(eager_budget = 2, spawn_policy = "eager")]
async fn eager_budget_option() {
    // All in the first poll of the test body (one tick): 2 inline polls, then the queue.
    let handles: Vec<_> = (0..5).map(|i| brisk::spawn(async move { i })).collect();
    let metrics = Handle::current().metrics();
    assert_eq!(metrics.eager_completed(), 2);
    assert_eq!(metrics.eager_deferred(), 3);
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), i);
    }
}

#[brisk::test(eager_depth = 1, global_queue_interval = 7, spawn_policy = "Eager")]
async fn eager_depth_option() {
    let inner = brisk::spawn(async {
        // Already one level deep: this grandchild is queued, not polled inline.
        vec![brisk::spawn(async { 2 })]
    });
    assert!(inner.is_finished());
    let grandchild = inner.await.unwrap().pop().unwrap();
    assert_eq!(grandchild.await.unwrap(), 2);
    let metrics = Handle::current().metrics();
    assert_eq!(metrics.eager_completed(), 1);
    assert_eq!(metrics.eager_deferred(), 1);
}

#[brisk::test]
async fn result_test_with_question_mark() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "41".parse()?;
    let total = spawn_blocking(move || n + 1).await.unwrap();
    assert_eq!(total, 42);
    Ok(())
}

#[brisk::test]
async fn io_result_test() -> std::io::Result<()> {
    // `JoinError` converts into `io::Error`, so `?` works on a join too.
    let value = brisk::spawn(async { 7 }).await?;
    assert_eq!(value, 7);
    Ok(())
}

#[brisk::test]
#[should_panic(expected = "child failed")]
async fn should_panic_from_the_body_of_a_group() {
    let mut group = TaskGroup::new();
    group.spawn(async {});
    group.spawn(async { panic!("child failed") });
    // The child's panic resumes here and fails the test as expected.
    group.join_all().await;
}

#[brisk::test(worker_threads = 3)]
#[should_panic(expected = "plain panic")]
async fn should_panic_plain() {
    brisk::task::yield_now().await;
    panic!("plain panic");
}

/// Called by `an_err_result_is_returned_to_the_harness`, not run on its own.
#[brisk::test]
#[ignore = "run by an_err_result_is_returned_to_the_harness"]
async fn returns_err() -> Result<(), String> {
    let parsed: Result<u32, _> = "x".parse::<u32>();
    parsed.map_err(|e| format!("parse failed: {e}"))?;
    Ok(())
}

#[test]
fn an_err_result_is_returned_to_the_harness() {
    // The generated test function returns the body's `Err` (the harness reports it as a
    // failure), after running it on its own runtime.
    let err = returns_err().unwrap_err();
    assert!(err.starts_with("parse failed"), "{err}");
}

#[test]
fn a_test_body_runs_on_its_own_runtime() {
    // Each generated test builds a runtime: calling one from a plain thread works.
    default_is_current_thread_and_eager();
    assert!(Handle::try_current().is_none());
}
