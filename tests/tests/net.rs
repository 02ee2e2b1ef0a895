//! Sockets on the real runtime (127.0.0.1 and Unix sockets only).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brisk::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use brisk::Runtime;
use brisk_tests::{on_worker, with_watchdog};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn tcp_echo_200_clients_100_round_trips() {
    with_watchdog(LIMIT, "tcp echo", || {
        let rt = rt(2);
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = brisk::spawn(async move {
                for _ in 0..200 {
                    let (mut s, _) = listener.accept().await.unwrap();
                    brisk::spawn(async move {
                        let mut buf = [0u8; 64];
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                break;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                        }
                    });
                }
            });
            let clients: Vec<_> = (0..200u32)
                .map(|c| {
                    brisk::spawn(async move {
                        let mut s = TcpStream::connect(addr).await.unwrap();
                        let mut buf = [0u8; 8];
                        for r in 0..100u32 {
                            let msg = (u64::from(c) << 32 | u64::from(r)).to_le_bytes();
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                            assert_eq!(buf, msg, "client {c} round {r}");
                        }
                        100u32
                    })
                })
                .collect();
            let mut rounds = 0;
            for c in clients {
                rounds += c.await.unwrap();
            }
            server.await.unwrap();
            assert_eq!(rounds, 200 * 100);
        });
    });
}

#[test]
fn sixteen_mib_both_ways_at_once_through_split_halves() {
    with_watchdog(LIMIT, "16 MiB", || {
        const LEN: usize = 16 << 20;
        let rt = rt(2);
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let pattern = |i: usize, salt: u8| (i as u8).wrapping_mul(31).wrapping_add(salt);
            let side = move |s: TcpStream, salt: u8, peer_salt: u8| async move {
                let (mut r, mut w) = s.into_split();
                let writer = brisk::spawn(async move {
                    let chunk: Vec<u8> = (0..LEN).map(|i| pattern(i, salt)).collect();
                    for part in chunk.chunks(64 * 1024) {
                        w.write_all(part).await.unwrap();
                    }
                    w.shutdown().await.unwrap();
                });
                let mut got = 0usize;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = r.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    for (k, b) in buf[..n].iter().enumerate() {
                        assert_eq!(*b, pattern(got + k, peer_salt), "byte {}", got + k);
                    }
                    got += n;
                }
                writer.await.unwrap();
                got
            };
            let server = brisk::spawn(async move {
                let (s, _) = listener.accept().await.unwrap();
                side(s, 1, 2).await
            });
            let client = TcpStream::connect(addr).await.unwrap();
            let client_got = side(client, 2, 1).await;
            assert_eq!(client_got, LEN);
            assert_eq!(server.await.unwrap(), LEN);
        });
    });
}

#[test]
fn peer_close_reads_zero_and_closed_port_errors() {
    with_watchdog(LIMIT, "close", || {
        let rt = rt(2);
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accept = brisk::spawn(async move { listener.accept().await.unwrap().0 });
            let mut c = TcpStream::connect(addr).await.unwrap();
            drop(accept.await.unwrap());
            let mut buf = [0u8; 4];
            assert_eq!(c.read(&mut buf).await.unwrap(), 0);

            // A port nobody listens on: bind, learn the port, close.
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            assert!(TcpStream::connect(closed).await.is_err());
        });
    });
}

#[test]
fn udp_send_recv_and_send_to_recv_from() {
    with_watchdog(LIMIT, "udp", || {
        let rt = rt(2);
        rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            a.send_to(b"hello", ba).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"hello"[..], aa));
            a.connect(ba).await.unwrap();
            b.connect(aa).await.unwrap();
            b.send(b"back").await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"back");
        });
    });
}

#[test]
fn unix_stream_echo() {
    with_watchdog(LIMIT, "unix", || {
        let rt = rt(2);
        let dir = std::env::temp_dir().join(format!("brisk-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("echo.sock");
        let _ = std::fs::remove_file(&path);
        rt.block_on(async {
            let listener = UnixListener::bind(&path).unwrap();
            brisk::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 32];
                let n = s.read(&mut buf).await.unwrap();
                s.write_all(&buf[..n]).await.unwrap();
            });
            let mut c = UnixStream::connect(&path).await.unwrap();
            c.write_all(b"over unix").await.unwrap();
            let mut buf = [0u8; 9];
            c.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"over unix");
        });
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_task_looping_on_a_ready_socket_does_not_starve_another_f7() {
    // One worker. The reader finds 64 KiB already buffered, so once the reactor has reported
    // the socket readable, every 1-byte read is ready and it never has a reason to wait. The
    // coop budget (128 operations per tick) makes it yield anyway, so a task spawned once the
    // reader is in its loop runs after a few budgets of reads, not after all 65,536.
    with_watchdog(LIMIT, "F7 I/O starvation", || {
        let rt = rt(1);
        let (std_a, mut std_b) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut std_b, &vec![7u8; 64 * 1024]).unwrap();
        // Run on the worker itself (not inlined onto this thread), so that every task shares
        // that worker's local queue.
        let reads_when_b_ran = on_worker(&rt, async move {
            let mut a = UnixStream::from_std(std_a).unwrap();
            let reads = Arc::new(AtomicU64::new(0));
            let looping = brisk_tests::Flag::new();
            let (r2, l2) = (reads.clone(), looping.clone());
            let reader = brisk::spawn_lazy(async move {
                let mut buf = [0u8; 1];
                for _ in 0..64 * 1024 {
                    a.read_exact(&mut buf).await.unwrap();
                    r2.fetch_add(1, Ordering::SeqCst);
                    l2.set();
                }
            });
            // Resumes only when the reader gives the worker back.
            looping.wait().await;
            let r3 = reads.clone();
            let b = brisk::spawn_lazy(async move { r3.load(Ordering::SeqCst) });
            let at_b = b.await.unwrap();
            reader.await.unwrap();
            drop(std_b);
            at_b
        });
        assert!(
            reads_when_b_ran <= 4 * 128,
            "F7: B ran only after {reads_when_b_ran} ready reads (coop budget 128)"
        );
    });
}
