//! The demo HTTP/1.1 service and server of `examples/http_server.rs`, shared with the
//! integration tests and the load comparison.
//!
//! Routes of [`handle`]:
//!
//! | request | response |
//! |---|---|
//! | `GET /` | `200 hello from brisk` |
//! | `GET /sum?n=N` | `200` with the decimal sum of `1..=N`, computed by `N` child tasks (one per term), `0 <= N <= 100_000` |
//! | `POST /echo` | `200` with the request body (at most 1 MiB, else `413`) |
//! | anything else | `404` (or `405` for a known path with another method, `400` for a bad `n`) |
//!
//! [`serve`] runs it on a brisk [`TcpListener`](brisk::net::TcpListener) until a
//! [`Shutdown`] is triggered, then shuts down gracefully: it stops accepting, lets every
//! connection finish the request it is serving (hyper's `graceful_shutdown`), and returns once
//! all connections are closed.
//!
//! ```
//! use brisk_compat::demo::{serve, Shutdown};
//!
//! let rt = brisk::Runtime::new().unwrap();
//! let shutdown = Shutdown::new();
//! let stats = rt.block_on(async {
//!     let listener = brisk::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     println!("listening on {}", listener.local_addr().unwrap());
//!     let server = brisk::spawn(serve(listener, shutdown.clone()));
//!     // ... send requests, then:
//!     shutdown.trigger();
//!     server.await.unwrap().unwrap()
//! });
//! assert_eq!(stats.connections, 0);
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};

use crate::hyper::{BriskIo, BriskTimer};

/// The largest `n` that `GET /sum?n=` accepts.
pub const MAX_SUM_N: u64 = 100_000;

/// The largest body that `POST /echo` accepts, in bytes.
pub const MAX_ECHO_BODY: usize = 1 << 20;

/// How [`handle`] spawns the child tasks of `GET /sum`.
///
/// [`BriskSpawner`] spawns on brisk; the load comparison plugs in tokio to serve the very same
/// service on both runtimes.
pub trait Spawner: Clone + Send + Sync + 'static {
    /// Spawns `fut` as a task and returns a future of its output, `None` if the task
    /// panicked or was cancelled.
    fn spawn<T, F>(&self, fut: F) -> impl Future<Output = Option<T>> + Send + 'static
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static;
}

/// Spawns with [`brisk::spawn`]: the runtime's spawn policy (eager by default).
#[derive(Clone, Copy, Debug, Default)]
pub struct BriskSpawner;

impl Spawner for BriskSpawner {
    fn spawn<T, F>(&self, fut: F) -> impl Future<Output = Option<T>> + Send + 'static
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let handle = brisk::spawn(fut);
        async move { handle.await.ok() }
    }
}

/// The response body type of the demo service.
pub type Body = Full<Bytes>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Parses the `n` of `/sum?n=N`.
fn sum_n(query: Option<&str>) -> Option<u64> {
    let n = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("n="))?
        .parse::<u64>()
        .ok()?;
    (n <= MAX_SUM_N).then_some(n)
}

/// Sums `1..=n` with one child task per term, spawned with `spawner`.
///
/// Each child is ready at once, so under brisk's eager policy every child completes inside
/// its `spawn` call and never touches a queue.
pub async fn fan_out_sum<S: Spawner>(spawner: &S, n: u64) -> Option<u64> {
    let children: Vec<_> = (1..=n).map(|i| spawner.spawn(async move { i })).collect();
    let mut total = 0u64;
    for child in children {
        total += child.await?;
    }
    Some(total)
}

/// The demo service: routes one request (see the [module docs](self)).
pub async fn handle<S: Spawner>(
    req: Request<Incoming>,
    spawner: S,
) -> Result<Response<Body>, Infallible> {
    let res = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => text(StatusCode::OK, "hello from brisk"),
        (&Method::GET, "/sum") => match sum_n(req.uri().query()) {
            Some(n) => match fan_out_sum(&spawner, n).await {
                Some(total) => text(StatusCode::OK, total.to_string()),
                None => text(StatusCode::INTERNAL_SERVER_ERROR, "a child task failed"),
            },
            None => text(
                StatusCode::BAD_REQUEST,
                format!("expected /sum?n=N with 0 <= N <= {MAX_SUM_N}"),
            ),
        },
        (&Method::POST, "/echo") => {
            match Limited::new(req.into_body(), MAX_ECHO_BODY).collect().await {
                Ok(body) => {
                    let mut res = Response::new(Full::new(body.to_bytes()));
                    res.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/octet-stream"),
                    );
                    res
                }
                Err(e) if e.is::<http_body_util::LengthLimitError>() => text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {MAX_ECHO_BODY} bytes"),
                ),
                Err(e) => text(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
            }
        }
        (_, "/" | "/sum" | "/echo") => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    Ok(res)
}

/// What [`serve`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections that ended with an error (reset by the peer, malformed request, ...).
    pub connection_errors: u64,
}

/// Serves the demo service on `listener` until `shutdown` is triggered, then shuts down
/// gracefully (see the [module docs](self)).
///
/// Each connection is served by its own task, spawned with [`brisk::spawn`], with hyper's
/// HTTP/1.1 server (keep-alive on, [`BriskTimer`] for its timeouts) and `TCP_NODELAY` set.
/// Fails only if accepting fails with an error that is not about one connection.
pub async fn serve(
    listener: brisk::net::TcpListener,
    shutdown: Shutdown,
) -> io::Result<ServeStats> {
    let tracker = Tracker::default();
    let mut stats = ServeStats::default();
    {
        let mut stop = pin!(shutdown.wait());
        loop {
            let accepted = poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                listener.poll_accept(cx).map(Some)
            })
            .await;
            let stream = match accepted {
                None => break,
                Some(Ok((stream, _peer))) => stream,
                // The peer gave up before we accepted: not the listener's problem.
                Some(Err(e)) if is_connection_error(&e) => continue,
                Some(Err(e)) => return Err(e),
            };
            stats.connections += 1;
            // Best effort: the response would still be correct, only slower.
            let _ = stream.set_nodelay(true);
            let guard = tracker.enter();
            let shutdown = shutdown.clone();
            drop(brisk::spawn(async move {
                let ok = serve_connection(stream, shutdown).await.is_ok();
                guard.finish(ok);
            }));
        }
    }
    // Stop accepting: connections not accepted yet are refused from here on.
    drop(listener);
    stats.connection_errors = tracker.wait_idle().await;
    Ok(stats)
}

/// Serves one connection until it closes; on `shutdown`, finishes the request in flight and
/// closes.
async fn serve_connection(stream: brisk::net::TcpStream, shutdown: Shutdown) -> hyper::Result<()> {
    let service = hyper::service::service_fn(|req| handle(req, BriskSpawner));
    let mut conn = pin!(http1::Builder::new()
        .timer(BriskTimer::new())
        .serve_connection(BriskIo::new(stream), service));
    let mut stop = pin!(shutdown.wait());
    let mut stopping = false;
    poll_fn(|cx| {
        if !stopping && stop.as_mut().poll(cx).is_ready() {
            stopping = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// A shutdown signal: [`trigger`](Shutdown::trigger) it once, from any thread (a Ctrl-C
/// handler, a test), and every [`wait`](Shutdown::wait) future resolves.
///
/// Clones share the signal.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    inner: Arc<ShutdownInner>,
}

#[derive(Debug, Default)]
struct ShutdownInner {
    triggered: AtomicBool,
    next_id: AtomicU64,
    /// The wakers of pending `Wait`s, by id.
    waiters: Mutex<HashMap<u64, Waker>>,
}

impl ShutdownInner {
    fn waiters(&self) -> MutexGuard<'_, HashMap<u64, Waker>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shutdown {
    /// A signal that has not been triggered.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Triggers the signal and wakes every waiter. Idempotent; returns `true` the first time.
    pub fn trigger(&self) -> bool {
        let first = !self.inner.triggered.swap(true, Ordering::SeqCst);
        // Taken under the lock, after the flag is set: a `Wait` that registers its waker
        // under the lock either sees the flag or is in the map we drain.
        let waiters = std::mem::take(&mut *self.inner.waiters());
        for waker in waiters.into_values() {
            waker.wake();
        }
        first
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// A future that resolves once the signal is triggered.
    pub fn wait(&self) -> Wait {
        Wait {
            inner: self.inner.clone(),
            id: None,
        }
    }
}

/// The future of [`Shutdown::wait`].
#[derive(Debug)]
pub struct Wait {
    inner: Arc<ShutdownInner>,
    id: Option<u64>,
}

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.inner.triggered.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let mut waiters = this.inner.waiters();
        if this.inner.triggered.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let id = *this
            .id
            .get_or_insert_with(|| this.inner.next_id.fetch_add(1, Ordering::Relaxed));
        match waiters.get_mut(&id) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                waiters.insert(id, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.inner.waiters().remove(&id);
        }
    }
}

/// Counts live connection tasks; [`Tracker::wait_idle`] resolves when none is left.
#[derive(Clone, Debug, Default)]
struct Tracker {
    state: Arc<Mutex<TrackerState>>,
}

#[derive(Debug, Default)]
struct TrackerState {
    live: u64,
    errors: u64,
    waker: Option<Waker>,
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enter(&self) -> TrackerGuard {
        self.lock().live += 1;
        TrackerGuard {
            tracker: self.clone(),
            ok: false,
        }
    }

    /// Waits until no connection is live; returns how many ended with an error.
    async fn wait_idle(&self) -> u64 {
        poll_fn(|cx| {
            let mut state = self.lock();
            if state.live == 0 {
                Poll::Ready(state.errors)
            } else {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Held by a connection task; dropping it (also on panic) ends the connection's count.
struct TrackerGuard {
    tracker: Tracker,
    ok: bool,
}

impl TrackerGuard {
    fn finish(mut self, ok: bool) {
        self.ok = ok;
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.tracker.lock();
            state.live -= 1;
            if !self.ok {
                state.errors += 1;
            }
            if state.live == 0 {
                state.waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_query() {
        assert_eq!(sum_n(Some("n=10")), Some(10));
        assert_eq!(sum_n(Some("x=1&n=0")), Some(0));
        assert_eq!(sum_n(Some("n=-1")), None);
        assert_eq!(sum_n(Some("n=100001")), None);
        assert_eq!(sum_n(None), None);
    }

    #[test]
    fn shutdown_wakes_waiters() {
        let rt = brisk::Runtime::new().unwrap();
        let shutdown = Shutdown::new();
        let waiters: Vec<_> = (0..4).map(|_| rt.spawn(shutdown.wait())).collect();
        assert!(!shutdown.is_triggered());
        assert!(shutdown.trigger());
        assert!(!shutdown.trigger());
        rt.block_on(async {
            for w in waiters {
                w.await.unwrap();
            }
            // Triggered already: resolves at once.
            shutdown.wait().await;
        });
        assert!(shutdown.inner.waiters().is_empty());
    }
}
