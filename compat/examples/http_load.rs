//! Load comparison: the demo HTTP/1.1 service (`brisk_compat::demo::handle`) served on
//! brisk (eager), brisk (lazy) and tokio (multi-thread), driven by one bounded in-process
//! client, all in the same run.
//!
//! ```text
//! cargo run --release -p brisk-compat --example http_load -- [--conns 32] [--requests 300]
//!     [--workers 2] [--runs 3] [--sum-n 16] [--echo-bytes 1024]
//! ```
//!
//! The client is the same for every server: hyper's HTTP/1.1 client on a tokio
//! current-thread runtime on its own OS thread, `--conns` kept-alive connections each sending
//! `--requests` requests one after another, every response's status and length checked. The
//! servers differ only in their runtime: the same service, the same hyper server settings
//! (keep-alive, a timer for the header read timeout, `TCP_NODELAY`), `--workers` worker
//! threads. Scenarios: `GET /`, `GET /sum?n=` (fan-out to `--sum-n` child tasks per request)
//! and `POST /echo` (`--echo-bytes` bytes). Every (scenario, server) pair is measured `--runs`
//! times, interleaved, after a warm-up; the table shows the median requests/s.
//!
//! Only 127.0.0.1 is used; the total number of requests is bounded
//! (`conns × requests × scenarios × servers × (runs + 1)`), and each measurement gives up after
//! 120 s.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use brisk_compat::demo::{self, Shutdown, Spawner};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::rt::{ReadBufCursor, Sleep, Timer};
use hyper::{Method, Request, StatusCode};

/// Command-line settings.
#[derive(Clone, Debug)]
struct Config {
    conns: usize,
    requests: usize,
    workers: usize,
    runs: usize,
    sum_n: u64,
    echo_bytes: usize,
}

impl Config {
    fn from_args() -> Result<Config, String> {
        let mut config = Config {
            conns: 32,
            requests: 300,
            workers: 2,
            runs: 3,
            sum_n: 16,
            echo_bytes: 1024,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let parse = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
            match flag.as_str() {
                "--conns" => config.conns = parse(&value)?.max(1),
                "--requests" => config.requests = parse(&value)?.max(1),
                "--workers" => config.workers = parse(&value)?.max(1),
                "--runs" => config.runs = parse(&value)?.max(1),
                "--sum-n" => config.sum_n = parse(&value)?.min(demo::MAX_SUM_N as usize) as u64,
                "--echo-bytes" => config.echo_bytes = parse(&value)?.min(demo::MAX_ECHO_BODY),
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        Ok(config)
    }
}

/// One kind of request, with the response body length it expects.
#[derive(Clone, Debug)]
struct Scenario {
    name: String,
    method: Method,
    path: String,
    body: Bytes,
    expect_len: usize,
}

fn scenarios(config: &Config) -> Vec<Scenario> {
    let n = config.sum_n;
    vec![
        Scenario {
            name: "GET /".into(),
            method: Method::GET,
            path: "/".into(),
            body: Bytes::new(),
            expect_len: "hello from brisk".len(),
        },
        Scenario {
            name: format!("GET /sum?n={n}"),
            method: Method::GET,
            path: format!("/sum?n={n}"),
            body: Bytes::new(),
            expect_len: (n * (n + 1) / 2).to_string().len(),
        },
        Scenario {
            name: format!("POST /echo {} B", config.echo_bytes),
            method: Method::POST,
            path: "/echo".into(),
            body: Bytes::from(vec![b'e'; config.echo_bytes]),
            expect_len: config.echo_bytes,
        },
    ]
}

// ---------------------------------------------------------------------------------------
// The servers.

/// A server under test: its address and how to stop it.
trait RunningServer {
    fn addr(&self) -> SocketAddr;
    fn stop(self: Box<Self>);
}

/// The demo server of `brisk_compat::demo::serve` on a brisk runtime.
struct BriskServer {
    rt: brisk::Runtime,
    addr: SocketAddr,
    shutdown: Shutdown,
    task: brisk::JoinHandle<io::Result<demo::ServeStats>>,
}

impl BriskServer {
    fn start(workers: usize, policy: brisk::SpawnPolicy) -> BriskServer {
        let rt = brisk::Runtime::builder()
            .worker_threads(workers)
            .spawn_policy(policy)
            .build()
            .expect("building the brisk runtime");
        let listener = rt
            .block_on(brisk::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = rt.spawn(demo::serve(listener, shutdown.clone()));
        BriskServer {
            rt,
            addr,
            shutdown,
            task,
        }
    }
}

impl RunningServer for BriskServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop(self: Box<Self>) {
        self.shutdown.trigger();
        let stats = self
            .rt
            .block_on(self.task)
            .expect("the server task panicked")
            .expect("the server failed");
        assert_eq!(stats.connection_errors, 0, "connection errors: {stats:?}");
    }
}

/// The same service and hyper settings on a tokio multi-thread runtime.
struct TokioServer {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

impl TokioServer {
    fn start(workers: usize) -> TokioServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("building the tokio runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = rt.spawn(tokio_serve(listener, shutdown.clone()));
        TokioServer {
            rt,
            addr,
            shutdown,
            task,
        }
    }
}

impl RunningServer for TokioServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop(self: Box<Self>) {
        self.shutdown.trigger();
        self.rt
            .block_on(self.task)
            .expect("the server task panicked");
    }
}

/// `demo::serve`, with tokio's listener, spawn, I/O and timer.
async fn tokio_serve(listener: tokio::net::TcpListener, shutdown: Shutdown) {
    let mut stop = pin!(shutdown.wait());
    let mut connections = Vec::new();
    loop {
        let accepted = poll_fn(|cx| {
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        let Some(Ok((stream, _))) = accepted else {
            break;
        };
        let _ = stream.set_nodelay(true);
        let shutdown = shutdown.clone();
        connections.push(tokio::spawn(async move {
            let service = hyper::service::service_fn(|req| demo::handle(req, TokioSpawner));
            let mut conn = pin!(hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer)
                .serve_connection(TokioIo(stream), service));
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
            .expect("tokio server connection failed");
        }));
    }
    drop(listener);
    for c in connections {
        c.await.expect("a tokio connection task panicked");
    }
}

/// `demo::Spawner` on tokio.
#[derive(Clone, Copy, Debug)]
struct TokioSpawner;

impl Spawner for TokioSpawner {
    fn spawn<T, F>(&self, fut: F) -> impl Future<Output = Option<T>> + Send + 'static
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let handle = tokio::spawn(fut);
        async move { handle.await.ok() }
    }
}

/// `hyper::rt::Timer` on tokio's timer (what hyper-util's `TokioTimer` does).
#[derive(Clone, Copy, Debug)]
struct TokioTimer;

impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(TokioSleep {
            inner: tokio::time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(TokioSleep {
            inner: tokio::time::sleep_until(deadline.into()),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TokioSleep>() {
            Some(ours) => ours.inner().reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A `tokio::time::Sleep` (which is `!Unpin`) as a `hyper::rt::Sleep`.
struct TokioSleep {
    inner: tokio::time::Sleep,
}

impl TokioSleep {
    /// Structural pinning of the one field.
    fn inner(self: Pin<&mut Self>) -> Pin<&mut tokio::time::Sleep> {
        // SAFETY: `inner` is never moved out of a pinned `TokioSleep`: no method hands out
        // `&mut tokio::time::Sleep`, `TokioSleep` has no `Drop` impl and is `!Unpin` because
        // `inner` is. So pinning `self` pins `inner`.
        unsafe { self.map_unchecked_mut(|s| &mut s.inner) }
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner().poll(cx)
    }
}

impl Sleep for TokioSleep {}

/// hyper's I/O traits over a tokio stream (what hyper-util's `TokioIo` does).
struct TokioIo<T>(T);

impl<T: tokio::io::AsyncRead + Unpin> hyper::rt::Read for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let n = {
            // SAFETY: tokio's `ReadBuf` never de-initializes bytes: it only writes
            // initialized data into the slice (or zeroes, in `initialize_unfilled`).
            let mut tbuf = tokio::io::ReadBuf::uninit(unsafe { buf.as_mut() });
            std::task::ready!(Pin::new(&mut self.get_mut().0).poll_read(cx, &mut tbuf))?;
            tbuf.filled().len()
        };
        // SAFETY: `ReadBuf::filled` is initialized: these `n` bytes were written by the read.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> hyper::rt::Write for TokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }
}

// ---------------------------------------------------------------------------------------
// The client.

/// Runs `conns × requests` requests of `scenario` against `addr`; returns the elapsed time.
async fn drive(
    addr: SocketAddr,
    scenario: &Scenario,
    conns: usize,
    requests: usize,
) -> Result<Duration, String> {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let scenario = scenario.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::task::spawn_local(conn);
            for _ in 0..requests {
                let req = Request::builder()
                    .method(scenario.method.clone())
                    .uri(scenario.path.as_str())
                    .header(hyper::header::HOST, "127.0.0.1")
                    .body(Full::new(scenario.body.clone()))
                    .map_err(|e| e.to_string())?;
                sender.ready().await.map_err(|e| format!("ready: {e}"))?;
                let res = sender
                    .send_request(req)
                    .await
                    .map_err(|e| format!("request: {e}"))?;
                if res.status() != StatusCode::OK {
                    return Err(format!("status {}", res.status()));
                }
                let body = res
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("body: {e}"))?
                    .to_bytes();
                if body.len() != scenario.expect_len {
                    return Err(format!("body of {} bytes: {body:?}", body.len()));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("client task: {e}"))??;
    }
    Ok(start.elapsed())
}

/// The client thread's runtime: tokio, current-thread, with a local set for `spawn_local`.
struct Client {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
}

impl Client {
    fn new() -> Client {
        Client {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building the client runtime"),
            local: tokio::task::LocalSet::new(),
        }
    }

    fn measure(
        &self,
        addr: SocketAddr,
        scenario: &Scenario,
        conns: usize,
        requests: usize,
    ) -> Duration {
        let run = async {
            tokio::time::timeout(
                Duration::from_secs(120),
                drive(addr, scenario, conns, requests),
            )
            .await
        };
        self.local
            .block_on(&self.rt, run)
            .expect("a measurement took more than 120 s")
            .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
    }
}

// ---------------------------------------------------------------------------------------

const SERVERS: [&str; 3] = ["brisk (eager)", "brisk (lazy)", "tokio"];

fn start(server: usize, workers: usize) -> Box<dyn RunningServer> {
    match server {
        0 => Box::new(BriskServer::start(workers, brisk::SpawnPolicy::Eager)),
        1 => Box::new(BriskServer::start(workers, brisk::SpawnPolicy::Lazy)),
        _ => Box::new(TokioServer::start(workers)),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let config = Config::from_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let scenarios = scenarios(&config);
    let client = Client::new();
    let total = (config.conns * config.requests) as f64;
    eprintln!(
        "{} connections x {} requests, server workers {}, runs {}, client: hyper on a tokio \
         current-thread runtime (1 thread), {} cores",
        config.conns,
        config.requests,
        config.workers,
        config.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // rates[scenario][server] = requests/s of each run.
    let mut rates = vec![vec![Vec::new(); SERVERS.len()]; scenarios.len()];
    for run in 0..=config.runs {
        for (s, name) in SERVERS.iter().enumerate() {
            let server = start(s, config.workers);
            for (i, scenario) in scenarios.iter().enumerate() {
                let elapsed =
                    client.measure(server.addr(), scenario, config.conns, config.requests);
                let rate = total / elapsed.as_secs_f64();
                if run == 0 {
                    eprintln!(
                        "warm-up  {name:<14} {:<22} {rate:>10.0} req/s",
                        scenario.name
                    );
                } else {
                    eprintln!(
                        "run {run}    {name:<14} {:<22} {rate:>10.0} req/s",
                        scenario.name
                    );
                    rates[i][s].push(rate);
                }
            }
            server.stop();
        }
    }

    println!();
    println!(
        "| scenario | brisk (eager) req/s | brisk (lazy) req/s | tokio req/s | eager / tokio |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (i, scenario) in scenarios.iter().enumerate() {
        let m: Vec<f64> = rates[i].iter().map(|r| median(r.clone())).collect();
        println!(
            "| `{}` | {:.0} | {:.0} | {:.0} | {:.2} |",
            scenario.name,
            m[0],
            m[1],
            m[2],
            m[0] / m[2]
        );
    }
}
