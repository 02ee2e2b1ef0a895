//! `brisk::signal` with real signals sent to this process (`raise`, `kill`). The tests run
//! in parallel threads of one process, so each uses a signal of its own.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;

use brisk::signal::unix::{signal, SignalKind};
use brisk_tests::with_watchdog;
use futures_lite::future::poll_once;

fn run<F: Future<Output = ()> + Send + 'static>(name: &'static str, fut: F) {
    with_watchdog(Duration::from_secs(60), name, move || {
        let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(fut)
    })
}

fn raise(kind: SignalKind) {
    // SAFETY: raising a signal has no memory-safety preconditions; brisk's handler for it is
    // installed (by the listener created before), so the default action does not run.
    let rc = unsafe { libc::raise(kind.as_raw_value()) };
    assert_eq!(rc, 0, "raise failed");
}

#[test]
fn a_signal_arriving_twice_before_recv_is_one_event() {
    run("signal twice", async {
        let kind = SignalKind::user_defined1();
        let mut sig = signal(kind).unwrap();
        // Nothing yet.
        assert!(poll_once(sig.recv()).await.is_none());
        raise(kind);
        raise(kind);
        assert_eq!(sig.recv().await, Some(()));
        // Both arrivals were consumed by that one event.
        assert!(poll_once(sig.recv()).await.is_none());
        // A later arrival is a new event.
        raise(kind);
        assert_eq!(sig.recv().await, Some(()));
        assert!(poll_once(sig.recv()).await.is_none());
    });
}

#[test]
fn a_waiting_task_is_woken_by_a_signal_from_another_thread() {
    run("signal from another thread", async {
        let kind = SignalKind::user_defined2();
        let mut sig = signal(kind).unwrap();
        let waiter = brisk::spawn(async move {
            sig.recv().await.unwrap();
            sig.recv().await.unwrap();
            "got two"
        });
        // Arrivals before the waiter takes an event coalesce, so keep sending until it has
        // seen two events; each is sent with kill(getpid()) from a plain thread (the signal
        // is process-directed, any thread may run the handler).
        let mut waiter = pin!(waiter);
        loop {
            if let Some(r) = poll_once(waiter.as_mut()).await {
                assert_eq!(r.unwrap(), "got two");
                break;
            }
            let sender = std::thread::spawn(move || {
                // SAFETY: kill has no memory-safety preconditions; the handler is installed.
                let rc = unsafe { libc::kill(libc::getpid(), kind.as_raw_value()) };
                assert_eq!(rc, 0);
            });
            sender.join().unwrap();
            brisk::task::yield_now().await;
        }
    });
}

#[test]
fn every_listener_of_a_signal_sees_it() {
    run("two listeners", async {
        let kind = SignalKind::hangup();
        let mut a = signal(kind).unwrap();
        let mut b = signal(kind).unwrap();
        raise(kind);
        assert_eq!(a.recv().await, Some(()));
        assert_eq!(b.recv().await, Some(()));
        // A listener created after the arrival does not see it.
        let mut late = signal(kind).unwrap();
        assert!(poll_once(late.recv()).await.is_none());
        drop(a);
        raise(kind);
        assert_eq!(b.recv().await, Some(()));
        assert_eq!(late.recv().await, Some(()));
    });
}

#[test]
fn ctrl_c_resolves_on_sigint() {
    run("ctrl_c", async {
        let mut ctrl_c = pin!(brisk::signal::ctrl_c());
        // The first poll installs the handler; only then is SIGINT safe to raise.
        assert!(poll_once(ctrl_c.as_mut()).await.is_none());
        raise(SignalKind::interrupt());
        ctrl_c.await.unwrap();
    });
}

#[test]
fn forbidden_and_invalid_signals_are_errors() {
    run("forbidden signals", async {
        for kind in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
            let err = signal(SignalKind::from_raw(kind)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err:?}");
            assert!(err.to_string().contains("cannot be listened for"), "{err}");
        }
        for bad in [0, -3, 100_000] {
            assert!(signal(SignalKind::from_raw(bad)).is_err(), "signal {bad}");
        }
    });
}

#[test]
#[should_panic(expected = "there is no brisk reactor running")]
fn signal_outside_a_runtime_panics() {
    let _ = signal(SignalKind::window_change());
}

#[test]
fn signal_kinds_map_to_their_numbers() {
    assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    assert_eq!(
        SignalKind::from_raw(libc::SIGUSR1),
        SignalKind::user_defined1()
    );
    assert_eq!(libc::c_int::from(SignalKind::child()), libc::SIGCHLD);
}
