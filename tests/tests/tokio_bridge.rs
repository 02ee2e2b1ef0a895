//! `brisk_compat::tokio`: tokio-only code inside brisk tasks. Without the bridge tokio's
//! timer panics; with it, `tokio::time`, `tokio::net`, `tokio::spawn` and a real tokio-based
//! client crate (hyper-util's legacy HTTP client over `tokio::net::TcpStream`) work against a
//! brisk hyper server on loopback.

use std::time::Duration;

use brisk_compat::demo::{serve, Shutdown};
use brisk_compat::tokio::{Compat, CompatExt};
use brisk_tests::with_watchdog;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn run<F: std::future::Future<Output = ()> + Send + 'static>(name: &'static str, fut: F) {
    with_watchdog(Duration::from_secs(60), name, move || {
        let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(fut)
    })
}

#[test]
fn without_the_bridge_tokio_time_panics_inside_brisk() {
    run("no bridge", async {
        let task = brisk::spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
        });
        let err = task.await.unwrap_err();
        assert!(err.is_panic());
        let panic = err.into_panic();
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(msg.contains("no reactor running"), "{msg}");
    });
}

#[test]
fn tokio_time_net_and_spawn_run_inside_brisk_tasks() {
    run("bridge basics", async {
        let handle = brisk::spawn(
            async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                // A task on the bridge's tokio runtime accepts and answers.
                let server = tokio::spawn(async move {
                    let (stream, _) = listener.accept().await?;
                    loop {
                        stream.writable().await?;
                        match stream.try_write(b"from tokio") {
                            Ok(n) => return Ok::<_, std::io::Error>(n),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(e) => return Err(e),
                        }
                    }
                });
                let stream = tokio::net::TcpStream::connect(addr).await?;
                let mut buf = [0u8; 10];
                let mut got = 0;
                while got < 10 {
                    stream.readable().await?;
                    match stream.try_read(&mut buf[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                assert_eq!(server.await.unwrap()?, 10);
                Ok::<_, std::io::Error>(buf[..got].to_vec())
            }
            .compat(),
        );
        assert_eq!(handle.await.unwrap().unwrap(), b"from tokio");
    });
}

#[test]
fn hyper_util_legacy_client_against_a_brisk_hyper_server() {
    run("hyper-util client", async {
        let listener = brisk::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let server = brisk::spawn(serve(listener, shutdown.clone()));

        let client: Client<_, Full<bytes::Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        // Several requests in several brisk tasks, sharing the client's connection pool.
        let mut requests = Vec::new();
        for n in [10u64, 100, 1000] {
            let client = client.clone();
            requests.push(brisk::spawn(Compat::new(async move {
                let uri: hyper::Uri = format!("http://{addr}/sum?n={n}").parse().unwrap();
                let response = client.get(uri).await.expect("request failed");
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (n, String::from_utf8(body.to_vec()).unwrap())
            })));
        }
        for r in requests {
            let (n, body) = r.await.unwrap();
            assert_eq!(body, (n * (n + 1) / 2).to_string(), "sum of 1..={n}");
        }
        // A POST with a body, echoed.
        let echo = async {
            let req = hyper::Request::post(format!("http://{addr}/echo"))
                .body(Full::new(bytes::Bytes::from_static(
                    b"through tokio's client",
                )))
                .unwrap();
            let response = client.request(req).await.unwrap();
            response.into_body().collect().await.unwrap().to_bytes()
        }
        .compat()
        .await;
        assert_eq!(&echo[..], b"through tokio's client");
        // A refused connection is an error, not a hang.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let empty: Client<_, Empty<bytes::Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let err = async {
            empty
                .get(format!("http://{closed}/").parse().unwrap())
                .await
                .unwrap_err()
        }
        .compat()
        .await;
        assert!(err.is_connect(), "{err:?}");

        drop(client);
        shutdown.trigger();
        server.await.unwrap().unwrap();
    });
}

/// `#[brisk::test(tokio_compat)]` (and `#[brisk::main(tokio_compat)]`) run the body inside
/// the bridge: tokio's timer and sockets work directly in it.
#[brisk::test(tokio_compat)]
async fn the_attribute_option_runs_the_body_inside_the_bridge() {
    tokio::time::sleep(Duration::from_millis(1)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    assert_eq!(client.unwrap().local_addr().unwrap(), accepted.unwrap().1);
}
