//! hyper 1.x on brisk: the demo server of `runtime/examples/http_server.rs`
//! (`brisk_compat::demo`) on 127.0.0.1 with an ephemeral port, driven by hyper's client on
//! brisk and by `curl`; graceful shutdown; `BriskIo` over Unix streams; `BriskTimer` and
//! `BriskExecutor`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brisk::net::{TcpListener, TcpStream, UnixStream};
use brisk::{JoinHandle, Runtime};
use brisk_compat::demo::{serve, ServeStats, Shutdown};
use brisk_compat::hyper::{BriskExecutor, BriskIo, BriskSleep, BriskTimer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::rt::{Executor, Timer};
use hyper::{Method, Request, StatusCode};

/// Bounds every wait of these tests: a hang fails the test instead of stalling the suite.
const LIMIT: Duration = Duration::from_secs(20);

fn runtime() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

/// A demo server on 127.0.0.1:0 running on `rt`.
struct Server {
    addr: SocketAddr,
    shutdown: Shutdown,
    task: JoinHandle<std::io::Result<ServeStats>>,
}

impl Server {
    fn start(rt: &Runtime) -> Server {
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = rt.spawn(serve(listener, shutdown.clone()));
        Server {
            addr,
            shutdown,
            task,
        }
    }

    /// Triggers the graceful shutdown and returns the server's statistics.
    fn stop(self, rt: &Runtime) -> ServeStats {
        self.shutdown.trigger();
        let task = self.task;
        rt.block_on(async { brisk::time::timeout(LIMIT, task).await })
            .expect("the server did not shut down")
            .expect("the server task panicked")
            .expect("the server failed")
    }
}

/// A hyper HTTP/1.1 client connection on brisk; the connection future runs as a task.
async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(BriskIo::new(stream))
        .await
        .unwrap();
    brisk::spawn(async move {
        if let Err(e) = conn.await {
            panic!("client connection failed: {e}");
        }
    });
    sender
}

/// Sends one request on `sender` and returns status, `connection` header and body.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: Method,
    path: &str,
    body: impl Into<Bytes>,
) -> (StatusCode, Option<String>, Bytes) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "127.0.0.1")
        .body(Full::new(body.into()))
        .unwrap();
    let fut = async {
        sender.ready().await.unwrap();
        let res = sender.send_request(req).await.unwrap();
        let status = res.status();
        let connection = res
            .headers()
            .get(hyper::header::CONNECTION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, connection, body)
    };
    brisk::time::timeout(LIMIT, fut)
        .await
        .expect("request timed out")
}

#[test]
fn hyper_client_keep_alive() {
    let rt = runtime();
    let server = Server::start(&rt);
    let addr = server.addr;
    rt.block_on(async {
        // Every request of this block goes over this one connection.
        let mut c = connect(addr).await;
        let (status, connection, body) = send(&mut c, Method::GET, "/", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(connection, None, "HTTP/1.1 keeps the connection by default");
        assert_eq!(&body[..], b"hello from brisk");

        for (n, sum) in [
            (0u64, 0u64),
            (1, 1),
            (10, 55),
            (1000, 500_500),
            (100_000, 5_000_050_000),
        ] {
            let (status, _, body) = send(&mut c, Method::GET, &format!("/sum?n={n}"), "").await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, sum.to_string());
        }

        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (status, _, body) = send(&mut c, Method::POST, "/echo", payload.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, payload);
        let (status, _, body) = send(&mut c, Method::POST, "/echo", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty());

        let (status, _, _) = send(&mut c, Method::GET, "/sum?n=abc", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, _) = send(&mut c, Method::GET, "/sum?n=100001", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, _) = send(&mut c, Method::GET, "/nope", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = send(&mut c, Method::DELETE, "/echo", "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        // Still alive after the error responses.
        let (status, _, body) = send(&mut c, Method::GET, "/", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"hello from brisk");
    });
    let stats = server.stop(&rt);
    assert_eq!(
        stats,
        ServeStats {
            connections: 1,
            connection_errors: 0
        },
        "all requests on one kept-alive connection"
    );
}

#[test]
fn concurrent_connections() {
    let rt = runtime();
    let server = Server::start(&rt);
    let addr = server.addr;
    const CONNS: u64 = 8;
    const REQUESTS: u64 = 25;
    rt.block_on(async {
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                brisk::spawn(async move {
                    let mut sender = connect(addr).await;
                    for r in 0..REQUESTS {
                        let n = c * REQUESTS + r;
                        let (status, _, body) =
                            send(&mut sender, Method::GET, &format!("/sum?n={n}"), "").await;
                        assert_eq!(status, StatusCode::OK);
                        assert_eq!(body, (n * (n + 1) / 2).to_string());
                        let msg = format!("connection {c} request {r}");
                        let (status, _, body) =
                            send(&mut sender, Method::POST, "/echo", msg.clone()).await;
                        assert_eq!(status, StatusCode::OK);
                        assert_eq!(body, msg);
                    }
                })
            })
            .collect();
        for c in clients {
            brisk::time::timeout(LIMIT, c).await.unwrap().unwrap();
        }
    });
    let stats = server.stop(&rt);
    assert_eq!(stats.connections, CONNS);
    assert_eq!(stats.connection_errors, 0);
}

#[test]
fn echo_body_too_large_is_413() {
    let rt = runtime();
    let server = Server::start(&rt);
    let addr = server.addr;
    rt.block_on(async {
        let mut c = connect(addr).await;
        let big = vec![b'x'; brisk_compat::demo::MAX_ECHO_BODY + 1];
        let (status, _, _) = send(&mut c, Method::POST, "/echo", big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    });
    server.stop(&rt);
}

/// Runs curl with `args`; `None` (after printing why) if curl is not installed.
fn curl(args: &[&str]) -> Option<String> {
    let out = match Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "--noproxy",
            "*",
        ])
        .args(args)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: curl is not installed (.ci/run installs it with apt-get)");
            return None;
        }
        Err(e) => panic!("running curl: {e}"),
    };
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn curl_client() {
    let rt = runtime();
    let server = Server::start(&rt);
    let base = format!("http://{}", server.addr);
    // curl blocks this thread; the server runs on the runtime's workers.
    let root = format!("{base}/");
    let sum = format!("{base}/sum?n=2000");
    let missing = format!("{base}/missing");
    // Three URLs in one curl run: curl reuses the connection (num_connects 1, then 0).
    let Some(out) = curl(&[
        "--write-out",
        "|%{http_code}|%{num_connects}\\n",
        &root,
        &sum,
        &missing,
    ]) else {
        server.stop(&rt);
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["hello from brisk|200|1", "2001000|200|0", "not found|404|0"],
        "bodies, statuses, and one connection for all three"
    );

    // POST /echo with a body from a file, and the response headers.
    let dir = std::env::temp_dir().join(format!("brisk-http-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.bin");
    let payload: Vec<u8> = (0..50_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(&file, &payload).unwrap();
    let echo = format!("{base}/echo");
    let data = format!("@{}", file.display());
    let out = curl(&["--include", "--data-binary", &data, &echo]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("headers and body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 50000"),
        "{head}"
    );
    assert_eq!(body.as_bytes(), &payload[..]);

    let stats = server.stop(&rt);
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.connection_errors, 0);
}

/// Reads from a blocking std stream until end of stream.
fn read_to_end(stream: &mut std::net::TcpStream) -> String {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn graceful_shutdown_finishes_in_flight_request() {
    let rt = runtime();
    let server = Server::start(&rt);
    let addr = server.addr;

    // A blocking client on this thread. `Expect: 100-continue` makes the server tell us when
    // the service has started reading the body, so the request is in flight for certain.
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    client
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\
              Expect: 100-continue\r\n\r\n",
        )
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n\r\n") {
        let n = client.read(&mut buf).unwrap();
        assert!(n > 0, "closed before 100 Continue");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 100 Continue"), "{got:?}");

    server.shutdown.trigger();
    // The server stops accepting: a new connection is refused once the listener is gone.
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(start.elapsed() < LIMIT, "still accepting after shutdown");
        std::thread::sleep(Duration::from_millis(5));
    }
    // ... but waits for the request in flight.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !server.task.is_finished(),
        "the server finished with a request in flight"
    );

    client.write_all(b"hello world").unwrap();
    let response = read_to_end(&mut client);
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert_eq!(body, "hello world");

    let stats = server.stop(&rt);
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.connection_errors, 0);
}

#[test]
fn graceful_shutdown_closes_idle_connections() {
    let rt = runtime();
    let server = Server::start(&rt);
    let addr = server.addr;
    let mut client = rt.block_on(connect(addr));
    let (status, _, _) = rt.block_on(send(&mut client, Method::GET, "/", ""));
    assert_eq!(status, StatusCode::OK);
    // The kept-alive connection is idle: shutdown closes it instead of waiting for it.
    let stats = server.stop(&rt);
    assert_eq!(stats.connections, 1);
    // The client sees the close (its connection task ends without an error).
    rt.block_on(async {
        let start = Instant::now();
        while !client.is_closed() {
            assert!(
                start.elapsed() < LIMIT,
                "the client connection is still open"
            );
            brisk::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn hyper_over_unix_stream() {
    let rt = runtime();
    rt.block_on(async {
        let (server_side, client_side) = UnixStream::pair().unwrap();
        let server = brisk::spawn(
            hyper::server::conn::http1::Builder::new()
                .timer(BriskTimer::new())
                .serve_connection(
                    BriskIo::new(server_side),
                    hyper::service::service_fn(|req| {
                        brisk_compat::demo::handle(req, brisk_compat::demo::BriskSpawner)
                    }),
                ),
        );
        let (mut sender, conn) = hyper::client::conn::http1::handshake(BriskIo::new(client_side))
            .await
            .unwrap();
        let client_conn = brisk::spawn(conn);
        let (status, _, body) = send(&mut sender, Method::GET, "/sum?n=100", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "5050");
        let (status, _, body) = send(&mut sender, Method::POST, "/echo", "over unix").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "over unix");
        // Closing the client ends both connections cleanly.
        drop(sender);
        client_conn.await.unwrap().unwrap();
        server.await.unwrap().unwrap();
    });
}

#[test]
fn header_read_timeout_uses_brisk_timer() {
    let rt = runtime();
    rt.block_on(async {
        let (server_side, mut client_side) = UnixStream::pair().unwrap();
        let timeout = Duration::from_millis(100);
        let start = Instant::now();
        let server = brisk::spawn(
            hyper::server::conn::http1::Builder::new()
                .timer(BriskTimer::new())
                .header_read_timeout(timeout)
                .serve_connection(
                    BriskIo::new(server_side),
                    hyper::service::service_fn(|req| {
                        brisk_compat::demo::handle(req, brisk_compat::demo::BriskSpawner)
                    }),
                ),
        );
        // Half a request line, then silence: the server must give up after the timeout.
        client_side.write_all(b"GET / HT").await.unwrap();
        let mut buf = [0u8; 256];
        loop {
            let n = brisk::time::timeout(LIMIT, client_side.read(&mut buf))
                .await
                .expect("the header read timeout did not fire")
                .unwrap();
            if n == 0 {
                break;
            }
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= timeout, "closed after {elapsed:?}");
        let result = server.await.unwrap();
        assert!(result.is_err(), "a timed-out connection ends with an error");
    });
}

#[test]
fn brisk_timer_sleep_and_reset() {
    let rt = runtime();
    rt.block_on(async {
        let timer = BriskTimer::new();
        let start = Instant::now();
        timer.sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));

        // `reset` moves a BriskSleep in place.
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        let deadline = Instant::now() + Duration::from_millis(10);
        timer.reset(&mut sleep, deadline);
        let ours = sleep
            .as_mut()
            .downcast_mut_pin::<BriskSleep>()
            .expect("still a BriskSleep");
        assert_eq!(ours.deadline(), deadline);
        brisk::time::timeout(LIMIT, sleep).await.unwrap();
        assert!(Instant::now() >= deadline);

        timer.sleep_until(Instant::now()).await;
    });
}

#[test]
fn brisk_executor_is_eager_unless_lazy() {
    let rt = runtime();
    let metrics = rt.metrics();
    rt.block_on(async {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        BriskExecutor::new().execute(async move { flag.store(true, Ordering::SeqCst) });
        assert!(
            ran.load(Ordering::SeqCst),
            "eager: a ready task runs inside execute"
        );
        assert_eq!(metrics.eager_completed(), 1);

        // Lazy: queued (another worker may run it at once, so only the counter tells).
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        BriskExecutor::lazy().execute(async move { flag.store(true, Ordering::SeqCst) });
        let start = Instant::now();
        while !ran.load(Ordering::SeqCst) {
            assert!(start.elapsed() < LIMIT);
            brisk::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            metrics.eager_completed(),
            1,
            "the lazy task did not run inline"
        );
    });
}

/// The `http_server` example binary, if `cargo test --workspace` (or `cargo build -p brisk
/// --examples`) built it next to this test's binary.
fn example_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/http-<hash> -> target/<profile>/examples/http_server
    let path = exe.parent()?.parent()?.join("examples").join("http_server");
    path.is_file().then_some(path)
}

#[test]
fn example_binary_serves_and_stops_on_sigint() {
    use std::io::BufRead;

    let Some(bin) = example_binary() else {
        eprintln!(
            "SKIPPED: the http_server example is not built (run `cargo test --workspace`, \
             which builds brisk's examples)"
        );
        return;
    };
    let mut child = Command::new(&bin)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();

    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    client
        .write_all(b"GET /sum?n=300 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let response = read_to_end(&mut client);
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("\r\n\r\n45150"), "{response}");

    // Ctrl-C: the server shuts down gracefully and exits with success.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            child.kill().unwrap();
            panic!("the example did not exit after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit status {status}; stderr: {stderr}");
    assert!(stderr.contains("connections served: 1,"), "{stderr}");
}
