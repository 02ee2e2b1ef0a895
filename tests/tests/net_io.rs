//! Socket types on the real runtime: echo, concurrent accept, large transfers in both
//! directions, end of stream, split halves, refused connections, UDP and Unix sockets.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brisk::io::{AsyncRead, AsyncWrite};
use brisk::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use brisk_tests::with_watchdog;
use futures_util::future::{join as join2, join_all};

/// Runs `fut` on a fresh two-worker runtime; fails the test after 60 s.
fn run<F: Future + Send + 'static>(fut: F) -> F::Output
where
    F::Output: Send + 'static,
{
    with_watchdog(Duration::from_secs(60), "net_io test", move || {
        let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(fut)
    })
}

/// Deterministic test data: byte `i` of stream `seed`.
fn pattern_byte(seed: u8, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 11)).wrapping_add(seed as usize) as u8
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern_byte(seed, i)).collect()
}

/// A fresh, empty directory for Unix socket files; removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "brisk-net-io-{}-{}-{}",
            name,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads until end of stream, checking each byte against `pattern_byte(seed, _)`.
/// Returns the number of bytes read.
async fn read_and_check<R: AsyncRead + Unpin>(r: &mut R, seed: u8) -> io::Result<usize> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf)).await?;
        if n == 0 {
            return Ok(total);
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            if b != pattern_byte(seed, total + k) {
                return Err(io::Error::other(format!(
                    "byte {} is {b}, expected {}",
                    total + k,
                    pattern_byte(seed, total + k)
                )));
            }
        }
        total += n;
    }
}

async fn connected_tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = join2(TcpStream::connect(addr), listener.accept()).await;
    let client = client.unwrap();
    let (server, peer) = accepted.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), addr);
    (client, server)
}

#[test]
fn tcp_echo_many_clients() {
    const CLIENTS: usize = 24;
    const LEN: usize = 100 * 1024;
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        // Server: accepts in one task, echoes each connection in a task of its own.
        let server = brisk::spawn(async move {
            let mut echoes = Vec::new();
            for _ in 0..CLIENTS {
                let (mut stream, _) = listener.accept().await.unwrap();
                echoes.push(brisk::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut echoed = 0;
                    loop {
                        let n = stream.read(&mut buf).await?;
                        if n == 0 {
                            return Ok::<_, io::Error>(echoed);
                        }
                        stream.write_all(&buf[..n]).await?;
                        echoed += n;
                    }
                }));
            }
            let mut echoed = Vec::new();
            for e in echoes {
                echoed.push(e.await.unwrap().unwrap());
            }
            echoed
        });

        let clients = (0..CLIENTS).map(|i| async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            assert!(stream.nodelay()?);
            let data = pattern(i as u8, LEN);
            let (mut rd, mut wr) = stream.split();
            let (w, r) = join2(
                async {
                    wr.write_all(&data).await?;
                    wr.shutdown().await
                },
                read_and_check(&mut rd, i as u8),
            )
            .await;
            w?;
            r
        });
        let results = join_all(clients).await;
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), LEN, "client {i}");
        }
        assert_eq!(server.await.unwrap(), vec![LEN; CLIENTS]);
    });
}

#[test]
fn tcp_accept_from_two_tasks_on_one_listener() {
    run(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let (listener, ready_tx) = (listener.clone(), ready_tx.clone());
                brisk::spawn(async move {
                    // Make sure both tasks are waiting before anyone connects.
                    let mut accept = std::pin::pin!(listener.accept());
                    let first =
                        poll_fn(|cx| std::task::Poll::Ready(accept.as_mut().poll(cx))).await;
                    assert!(first.is_pending(), "nothing connected yet");
                    ready_tx.send(()).unwrap();
                    accept.await.unwrap().1
                })
            })
            .collect();
        ready_rx.recv().await.unwrap();
        ready_rx.recv().await.unwrap();
        let a = TcpStream::connect(addr).await.unwrap();
        let b = TcpStream::connect(addr).await.unwrap();
        let mut peers = Vec::new();
        for t in acceptors {
            peers.push(t.await.unwrap());
        }
        let mut expected = vec![a.local_addr().unwrap(), b.local_addr().unwrap()];
        peers.sort();
        expected.sort();
        assert_eq!(peers, expected);
    });
}

#[test]
fn tcp_16mib_both_directions_at_once() {
    const LEN: usize = 16 * 1024 * 1024;
    const CHUNK: usize = 256 * 1024;

    async fn send(w: &mut (impl AsyncWrite + Unpin), seed: u8) -> io::Result<()> {
        let mut chunk = vec![0u8; CHUNK];
        let mut sent = 0;
        while sent < LEN {
            for (k, b) in chunk.iter_mut().enumerate() {
                *b = pattern_byte(seed, sent + k);
            }
            let mut off = 0;
            while off < CHUNK {
                let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, &chunk[off..])).await?;
                assert!(n > 0);
                off += n;
            }
            sent += CHUNK;
        }
        poll_fn(|cx| Pin::new(&mut *w).poll_close(cx)).await
    }

    run(async {
        let (mut a, b) = connected_tcp_pair().await;
        // Side B: owned halves in another task.
        let side_b = brisk::spawn(async move {
            let (mut rd, mut wr) = b.into_split();
            let (w, r) = join2(send(&mut wr, 2), read_and_check(&mut rd, 1)).await;
            w.unwrap();
            let got = r.unwrap();
            let b = rd.reunite(wr).expect("halves of the same stream");
            drop(b);
            got
        });
        // Side A: borrowed halves here.
        let (mut rd, mut wr) = a.split();
        let (w, r) = join2(send(&mut wr, 1), read_and_check(&mut rd, 2)).await;
        w.unwrap();
        assert_eq!(r.unwrap(), LEN);
        assert_eq!(side_b.await.unwrap(), LEN);
    });
}

#[test]
fn tcp_peer_close_reads_zero_and_read_exact_reports_eof() {
    run(async {
        let (mut client, mut server) = connected_tcp_pair().await;
        client.write_all(b"abc").await.unwrap();
        drop(client);
        let mut buf = [0u8; 8];
        assert_eq!(server.read_exact(&mut buf[..2]).await.unwrap(), 2);
        assert_eq!(&buf[..2], b"ab");
        let err = server.read_exact(&mut buf[..4]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn tcp_owned_write_half_drop_shuts_down_and_reunite_checks_origin() {
    run(async {
        let (c1, mut s1) = connected_tcp_pair().await;
        let (c2, _s2) = connected_tcp_pair().await;
        let (r1, w1) = c1.into_split();
        let (r2, w2) = c2.into_split();
        // Mismatched halves are handed back.
        let err = r1.reunite(w2).unwrap_err();
        let (r1, w2) = (err.0, err.1);
        let _c2 = r2.reunite(w2).unwrap();
        // Dropping the write half sends end of stream.
        drop(w1);
        let mut buf = [0u8; 4];
        assert_eq!(s1.read(&mut buf).await.unwrap(), 0);
        // The read half still works.
        s1.write_all(b"ok").await.unwrap();
        let mut r1 = r1;
        assert_eq!(r1.read_exact(&mut buf[..2]).await.unwrap(), 2);
        assert_eq!(&buf[..2], b"ok");
    });
}

#[test]
fn tcp_connect_to_closed_port_fails() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = run(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err:?}");
}

#[test]
fn tcp_from_std() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let std_client = std::net::TcpStream::connect(addr).unwrap();
    run(async move {
        let listener = TcpListener::from_std(std_listener).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut client = TcpStream::from_std(std_client).unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(server.read_exact(&mut buf).await.unwrap(), 4);
        assert_eq!(&buf, b"ping");
    });
}

#[test]
fn udp_send_to_recv_from_and_connected_send_recv() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

        assert_eq!(a.send_to(b"hello", b_addr).await.unwrap(), 5);
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], a_addr));

        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        // Many datagrams, received in order, while the receiver waits first.
        let (sent, received) = join2(
            async {
                for i in 0..100u8 {
                    a.send(&[i; 10]).await?;
                }
                Ok::<_, io::Error>(())
            },
            async {
                let mut buf = [0u8; 64];
                for i in 0..100u8 {
                    let n = b.recv(&mut buf).await?;
                    assert_eq!(&buf[..n], &[i; 10]);
                }
                Ok::<_, io::Error>(())
            },
        )
        .await;
        sent.unwrap();
        received.unwrap();
        b.send(b"back").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn unix_stream_echo() {
    let dir = TempDir::new("echo");
    let path = dir.0.join("echo.sock");
    run(async move {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
        let server = async {
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, io::Error>(());
                }
                stream.write_all(&buf[..n]).await?;
            }
        };
        let client = async {
            let mut stream = UnixStream::connect(&path).await?;
            let data = pattern(9, 300_000);
            let (mut rd, mut wr) = stream.split();
            let (w, r) = join2(
                async {
                    wr.write_all(&data).await?;
                    wr.shutdown().await
                },
                read_and_check(&mut rd, 9),
            )
            .await;
            w?;
            r
        };
        let (s, c) = join2(server, client).await;
        s.unwrap();
        assert_eq!(c.unwrap(), 300_000);
    });
}

#[test]
fn unix_connect_to_missing_path_fails() {
    let dir = TempDir::new("missing");
    let err = run(UnixStream::connect(dir.0.join("nobody.sock"))).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err:?}");
}

#[test]
fn unix_pair_and_async_traits() {
    run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let n = poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"through the trait"))
            .await
            .unwrap();
        assert_eq!(n, 17);
        poll_fn(|cx| Pin::new(&mut a).poll_close(cx)).await.unwrap();
        let mut buf = [0u8; 32];
        let n = b.read_exact(&mut buf[..17]).await.unwrap();
        assert_eq!(&buf[..n], b"through the trait");
        assert_eq!(
            poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf))
                .await
                .unwrap(),
            0
        );
        // The other direction is still open.
        b.write_all(b"reply").await.unwrap();
        let (mut ra, _wa) = a.into_split();
        assert_eq!(ra.read_exact(&mut buf[..5]).await.unwrap(), 5);
        assert_eq!(&buf[..5], b"reply");
    });
}
