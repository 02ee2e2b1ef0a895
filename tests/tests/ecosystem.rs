//! The runtime-agnostic crates the "Coming from tokio" guide points to, on brisk:
//! tokio's `sync` module (no tokio runtime), `tokio::select!`/`join!`/`try_join!`,
//! futures' `select!`/`join!`, and async-channel.

use std::sync::Arc;
use std::time::Duration;

use brisk_tests::with_watchdog;

fn run<F: std::future::Future<Output = ()> + Send + 'static>(name: &'static str, fut: F) {
    with_watchdog(Duration::from_secs(60), name, move || {
        let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(fut)
    })
}

#[test]
fn tokio_sync_channels_between_brisk_tasks() {
    run("tokio sync channels", async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let tx = tx.clone();
                // Lazy: the producers run on the workers, in parallel with the consumer.
                brisk::spawn_lazy(async move {
                    for i in 0..100 {
                        tx.send(p * 1000 + i).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut sum = 0u64;
        let mut count = 0;
        while let Some(v) = rx.recv().await {
            sum += u64::from(v);
            count += 1;
        }
        for p in producers {
            p.await.unwrap();
        }
        assert_eq!(count, 400);
        assert_eq!(sum, (0..4u64).map(|p| p * 100_000 + 4950).sum::<u64>());

        let (otx, orx) = tokio::sync::oneshot::channel();
        brisk::spawn_lazy(async move { otx.send("done").unwrap() });
        assert_eq!(orx.await.unwrap(), "done");

        let (wtx, mut wrx) = tokio::sync::watch::channel(0);
        let watcher = brisk::spawn(async move {
            while *wrx.borrow_and_update() < 3 {
                wrx.changed().await.unwrap();
            }
        });
        for v in 1..=3 {
            wtx.send(v).unwrap();
        }
        watcher.await.unwrap();

        let (btx, mut brx) = tokio::sync::broadcast::channel(8);
        btx.send(1).unwrap();
        btx.send(2).unwrap();
        assert_eq!(
            (brx.recv().await.unwrap(), brx.recv().await.unwrap()),
            (1, 2)
        );
    });
}

#[test]
fn tokio_sync_locks_semaphore_notify() {
    run("tokio sync locks", async {
        let counter = Arc::new(tokio::sync::Mutex::new(0u32));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let counter = counter.clone();
                brisk::spawn_lazy(async move {
                    for _ in 0..100 {
                        let mut guard = counter.lock().await;
                        // Held across an await point: the point of an async mutex.
                        brisk::task::yield_now().await;
                        *guard += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*counter.lock().await, 800);

        let rw = tokio::sync::RwLock::new(5);
        {
            let (a, b) = (rw.read().await, rw.read().await);
            assert_eq!(*a + *b, 10);
        }
        *rw.write().await = 6;
        assert_eq!(*rw.read().await, 6);

        let sem = Arc::new(tokio::sync::Semaphore::new(2));
        let a = sem.clone().acquire_owned().await.unwrap();
        let _b = sem.clone().acquire_owned().await.unwrap();
        assert!(sem.try_acquire().is_err());
        let waiter = brisk::spawn({
            let sem = sem.clone();
            async move { sem.acquire_owned().await.unwrap() }
        });
        assert!(!waiter.is_finished());
        drop(a);
        let _c = waiter.await.unwrap();

        let notify = Arc::new(tokio::sync::Notify::new());
        let n2 = notify.clone();
        let waiter = brisk::spawn(async move { n2.notified().await });
        notify.notify_one();
        waiter.await.unwrap();
    });
}

#[test]
fn tokio_select_and_join_macros_with_brisk_timers() {
    run("tokio select", async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&str>();
        // The channel is silent: brisk's timer wins.
        let which = tokio::select! {
            _ = rx.recv() => "channel",
            _ = brisk::time::sleep(Duration::from_millis(5)) => "timer",
        };
        assert_eq!(which, "timer");
        tx.send("message").unwrap();
        let which = tokio::select! {
            biased;
            m = rx.recv() => m.unwrap(),
            _ = brisk::time::sleep(Duration::from_secs(30)) => "timer",
        };
        assert_eq!(which, "message");

        let (a, b) = tokio::join!(
            async {
                brisk::time::sleep(Duration::from_millis(2)).await;
                1
            },
            brisk::spawn(async { 2 })
        );
        assert_eq!((a, b.unwrap()), (1, 2));
        let r: Result<(u8, u8), &str> =
            tokio::try_join!(async { Ok(1) }, async { Err::<u8, _>("second failed") });
        assert_eq!(r, Err("second failed"));
    });
}

#[test]
fn futures_select_join_and_async_channel() {
    use futures_util::FutureExt;

    run("futures macros", async {
        let (tx, rx) = async_channel::bounded::<u32>(1);
        let producer = brisk::spawn_lazy(async move {
            for i in 0..50 {
                tx.send(i).await.unwrap();
            }
        });
        let mut total = 0;
        while let Ok(v) = rx.recv().await {
            total += v;
        }
        producer.await.unwrap();
        assert_eq!(total, 1225);

        let mut slow = Box::pin(brisk::time::sleep(Duration::from_secs(30)).fuse());
        let mut fast = Box::pin(brisk::time::sleep(Duration::from_millis(2)).fuse());
        let winner = futures_util::select! {
            _ = slow => "slow",
            _ = fast => "fast",
        };
        assert_eq!(winner, "fast");
        let (x, y) = futures_util::join!(async { 3 }, brisk::spawn(async { 4 }));
        assert_eq!((x, y.unwrap()), (3, 4));
    });
}
