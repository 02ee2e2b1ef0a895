//! The full socket API on the real runtime, over loopback and Unix sockets: readiness and
//! the `try_*` operations, `peek`, `into_std`/`from_std`, socket options, `TcpSocket`,
//! UDP's datagram operations, abstract Unix names, `UnixDatagram`, and the failures a
//! program meets (port in use, refused connection, reset, missing path).

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use brisk::io::Interest;
use brisk::net::{
    TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};
use brisk_tests::with_watchdog;

fn run<F: std::future::Future<Output = ()> + Send + 'static>(name: &'static str, fut: F) {
    with_watchdog(Duration::from_secs(60), name, move || {
        let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(fut)
    })
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// A fresh directory for socket files, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "brisk-net-api-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name in Linux's abstract namespace, unique to this process and call.
fn abstract_name(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "\0brisk-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

// ---- TCP ----------------------------------------------------------------------------------

#[test]
fn tcp_try_write_fills_the_socket_then_try_read_drains_it() {
    run("tcp try_read/try_write", async {
        let (client, server) = tcp_pair().await;
        let chunk = vec![7u8; 64 * 1024];
        // Write without waiting until the kernel's buffers are full.
        let mut written = 0usize;
        loop {
            client.writable().await.unwrap();
            match client.try_write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("try_write: {e}"),
            }
        }
        assert!(written > 0);
        // Immediately after the WouldBlock the readiness is cleared: a second try fails
        // without a system call succeeding.
        assert_eq!(
            client.try_write(&chunk).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        // Read it all back without waiting in the reads themselves.
        let mut read = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        while read < written {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(0) => panic!("unexpected end of stream"),
                Ok(n) => {
                    assert!(buf[..n].iter().all(|&b| b == 7));
                    read += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("try_read: {e}"),
            }
        }
        assert_eq!(read, written);
        // Drained: nothing more to read.
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    });
}

#[test]
fn tcp_vectored_and_buf_forms() {
    run("tcp vectored", async {
        let (client, server) = tcp_pair().await;
        client.writable().await.unwrap();
        let n = client
            .try_write_vectored(&[IoSlice::new(b"hello "), IoSlice::new(b"world")])
            .unwrap();
        assert_eq!(n, 11);
        let (mut a, mut b) = ([0u8; 6], [0u8; 16]);
        let mut got = 0;
        while got < 11 {
            server.readable().await.unwrap();
            if let Ok(n) =
                server.try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
            {
                got += n;
            }
        }
        assert_eq!((&a, &b[..5]), (b"hello ", &b"world"[..]));

        client.try_write(b"into a Vec").unwrap();
        let mut v = Vec::with_capacity(4);
        loop {
            server.readable().await.unwrap();
            match server.try_read_buf(&mut v) {
                Ok(n) => {
                    assert!(n > 0);
                    if v.len() == 10 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("try_read_buf: {e}"),
            }
        }
        assert_eq!(v, b"into a Vec");
    });
}

#[test]
fn tcp_ready_reports_writable_and_then_readable() {
    run("tcp ready", async {
        let (mut client, server) = tcp_pair().await;
        let ready = server
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert!(ready.is_writable());
        assert!(!ready.is_readable(), "nothing was sent yet: {ready:?}");
        client.write_all(b"x").await.unwrap();
        let ready = server.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        // Peer closes: the reader sees read-closed readiness and end of stream.
        drop(client);
        let mut buf = [0u8; 4];
        let mut total = Vec::new();
        loop {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(total, b"x");
    });
}

#[test]
fn tcp_poll_read_ready_wakes_on_data() {
    run("tcp poll_read_ready", async {
        let (mut client, server) = tcp_pair().await;
        let waiter = brisk::spawn(async move {
            std::future::poll_fn(|cx| server.poll_read_ready(cx))
                .await
                .unwrap();
            let mut buf = [0u8; 8];
            let n = server.try_read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        client.write_all(b"wake").await.unwrap();
        assert_eq!(waiter.await.unwrap(), b"wake");
        std::future::poll_fn(|cx| client.poll_write_ready(cx))
            .await
            .unwrap();
    });
}

#[test]
fn tcp_peek_leaves_the_data_for_read() {
    run("tcp peek", async {
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        let mut n = server.peek(&mut buf).await.unwrap();
        while n < 5 {
            n = server.peek(&mut buf).await.unwrap();
        }
        assert_eq!(&buf[..n], b"hello");
        let mut again = [0u8; 5];
        assert_eq!(server.read_exact(&mut again).await.unwrap(), 5);
        assert_eq!(&again, b"hello");
    });
}

#[test]
fn tcp_into_std_and_back() {
    run("tcp into_std", async {
        let (client, mut server) = tcp_pair().await;
        let mut std_client = client.into_std().unwrap();
        std_client.set_nonblocking(false).unwrap();
        std_client.write_all(b"from std").unwrap();
        let mut buf = [0u8; 8];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"from std");
        // And back into brisk.
        let mut client = TcpStream::from_std(std_client).unwrap();
        server.write_all(b"back").await.unwrap();
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"back");

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let std_listener = listener.into_std().unwrap();
        assert_eq!(std_listener.local_addr().unwrap(), addr);
        let listener = TcpListener::from_std(std_listener).unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (_s, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
    });
}

#[test]
fn tcp_zero_linger_resets_the_peer() {
    run("tcp reset", async {
        let (client, mut server) = tcp_pair().await;
        assert_eq!(client.linger().unwrap(), None);
        client.set_linger(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(3)));
        client.set_zero_linger().unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
        drop(client);
        let mut buf = [0u8; 8];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err:?}");
    });
}

#[test]
fn tcp_options_round_trip() {
    run("tcp options", async {
        let (client, _server) = tcp_pair().await;
        client.set_ttl(42).unwrap();
        assert_eq!(client.ttl().unwrap(), 42);
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());
        assert!(client.take_error().unwrap().is_none());
    });
}

#[test]
fn tcp_bind_to_a_port_in_use_fails() {
    run("tcp port in use", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let err = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");
        let socket = TcpSocket::new_v4().unwrap();
        let err = socket.bind(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");
    });
}

#[test]
fn tcp_socket_listens_and_connects_with_options() {
    run("tcp socket", async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        assert!(socket.reuseaddr().unwrap());
        socket.set_reuseport(true).unwrap();
        assert!(socket.reuseport().unwrap());
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        assert!(socket.recv_buffer_size().unwrap() >= 64 * 1024);
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let listener = socket.listen(16).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);

        let client = TcpSocket::new_v4().unwrap();
        client.set_nodelay(true).unwrap();
        client.set_keepalive(true).unwrap();
        assert!(client.keepalive().unwrap());
        client.set_send_buffer_size(32 * 1024).unwrap();
        assert!(client.send_buffer_size().unwrap() >= 32 * 1024);
        client.set_linger(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(1)));
        let mut stream = client.connect(addr).await.unwrap();
        assert!(stream.nodelay().unwrap());
        let (mut accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
        stream.write_all(b"via TcpSocket").await.unwrap();
        let mut buf = [0u8; 13];
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"via TcpSocket");
    });
}

#[test]
fn tcp_socket_connect_refused() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    run("tcp socket refused", async move {
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect(addr)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err:?}");
    });
}

#[test]
fn try_io_with_both_directions_panics_with_a_clear_message() {
    let result = std::panic::catch_unwind(|| {
        run("try_io misuse", async {
            let (client, _server) = tcp_pair().await;
            let _ = client.try_io(Interest::READABLE | Interest::WRITABLE, || Ok(()));
        })
    });
    let err = result.unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        msg.contains("try_io takes Interest::READABLE or Interest::WRITABLE"),
        "{msg}"
    );
}

#[test]
fn tcp_try_io_runs_a_raw_operation() {
    run("tcp try_io", async {
        let (mut client, server) = tcp_pair().await;
        client.write_all(b"raw").await.unwrap();
        let mut buf = [0u8; 3];
        loop {
            server.readable().await.unwrap();
            let r = server.try_io(Interest::READABLE, || {
                let mut std = std::mem::ManuallyDrop::new(
                    // Borrow the fd as a std stream for one read, without closing it.
                    std::net::TcpStream::from(
                        std::os::fd::AsFd::as_fd(&server).try_clone_to_owned()?,
                    ),
                );
                std.read(&mut buf)
            });
            match r {
                Ok(n) => {
                    assert_eq!(&buf[..n], &b"raw"[..n]);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
    });
}

// ---- UDP ----------------------------------------------------------------------------------

#[test]
fn udp_try_send_try_recv_and_would_block() {
    run("udp try", async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0u8; 32];
        // Nothing queued: WouldBlock, at once.
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        a.writable().await.unwrap();
        assert_eq!(a.try_send_to(b"one", b_addr).unwrap(), 3);
        let (n, from) = loop {
            b.readable().await.unwrap();
            match b.try_recv_from(&mut buf) {
                Ok(r) => break r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!((&buf[..n], from), (&b"one"[..], a_addr));

        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        a.writable().await.unwrap();
        assert_eq!(a.try_send(b"two").unwrap(), 3);
        let n = loop {
            b.readable().await.unwrap();
            match b.try_recv(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"two");
    });
}

#[test]
fn udp_recv_buf_forms() {
    run("udp recv_buf", async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        a.send_to(b"first", b_addr).await.unwrap();
        a.send_to(b"second", b_addr).await.unwrap();
        let mut v = Vec::with_capacity(64);
        let (n, from) = b.recv_buf_from(&mut v).await.unwrap();
        assert_eq!(
            (n, &v[..], from),
            (5, &b"first"[..], a.local_addr().unwrap())
        );
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let mut v = Vec::with_capacity(64);
        assert_eq!(b.recv_buf(&mut v).await.unwrap(), 6);
        assert_eq!(v, b"second");
        let mut v = Vec::with_capacity(64);
        assert_eq!(
            b.try_recv_buf(&mut v).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(
            b.try_recv_buf_from(&mut v).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    });
}

#[test]
fn udp_peek_from_keeps_the_datagram() {
    run("udp peek", async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let a_addr = a.local_addr().unwrap();
        a.send_to(b"peeked", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"peeked"[..], a_addr));
        assert_eq!(b.peek_sender().await.unwrap(), a_addr);
        assert_eq!(b.try_peek_sender().unwrap(), a_addr);
        let (n, from) = b.try_peek_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"peeked"[..], a_addr));
        b.connect(a_addr).await.unwrap();
        assert_eq!(b.peek(&mut buf).await.unwrap(), 6);
        assert_eq!(b.try_peek(&mut buf).unwrap(), 6);
        // Still there for the real receive, and then gone.
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"peeked");
        assert_eq!(
            b.try_peek(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    });
}

#[test]
fn udp_options_and_port_in_use() {
    run("udp options", async {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert!(!s.broadcast().unwrap());
        s.set_broadcast(true).unwrap();
        assert!(s.broadcast().unwrap());
        s.set_multicast_loop_v4(false).unwrap();
        assert!(!s.multicast_loop_v4().unwrap());
        s.set_multicast_ttl_v4(7).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 7);
        s.set_ttl(33).unwrap();
        assert_eq!(s.ttl().unwrap(), 33);
        // Leaving a group never joined is an error from the kernel, passed through.
        assert!(s
            .leave_multicast_v4(Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::UNSPECIFIED)
            .is_err());
        let err = UdpSocket::bind(s.local_addr().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");
        let std = s.into_std().unwrap();
        assert!(std.broadcast().unwrap());
    });
}

#[test]
fn udp_multicast_on_loopback_when_the_host_allows_it() {
    run("udp multicast", async {
        let group = Ipv4Addr::new(239, 255, 0, 77);
        let rx = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        if let Err(e) = rx.join_multicast_v4(group, Ipv4Addr::LOCALHOST) {
            eprintln!("skipped: this host cannot join a multicast group on loopback: {e}");
            return;
        }
        let port = rx.local_addr().unwrap().port();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&tx)
            .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
            .unwrap();
        tx.send_to(b"group", (group, port)).unwrap();
        let mut buf = [0u8; 8];
        let (n, _) = rx.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"group");
        rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
    });
}

// ---- Unix ---------------------------------------------------------------------------------

#[test]
fn unix_abstract_names_bind_and_connect() {
    run("unix abstract", async {
        let name = abstract_name("stream");
        let listener = UnixListener::bind(&name).unwrap();
        let mut client = UnixStream::connect(&name).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"abstract").await.unwrap();
        let mut buf = [0u8; 8];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abstract");
        // The name is taken while the listener lives.
        let err = UnixListener::bind(&name).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");
        // No file was created for it.
        assert!(!std::path::Path::new(&name[1..]).exists());
    });
}

#[test]
fn unix_bind_addr_and_connect_addr() {
    let dir = TempDir::new("addr");
    let path = dir.0.join("s.sock");
    run("unix addr", async move {
        let addr = std::os::unix::net::SocketAddr::from_pathname(&path).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // try_read/try_write and peek on Unix streams.
        client.writable().await.unwrap();
        assert_eq!(client.try_write(b"ping").unwrap(), 4);
        let mut buf = [0u8; 4];
        let mut n = server.peek(&mut buf).await.unwrap();
        while n < 4 {
            n = server.peek(&mut buf).await.unwrap();
        }
        assert_eq!(&buf, b"ping");
        let mut got = [0u8; 4];
        server.readable().await.unwrap();
        assert_eq!(server.try_read(&mut got).unwrap(), 4);
        assert_eq!(&got, b"ping");
        // Back to std.
        let std_server = server.into_std().unwrap();
        assert!(std_server.peer_addr().unwrap().as_pathname().is_none());
        // Binding the same path again fails: the socket file exists.
        let err = UnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");
        // With the listener gone, the file remains but nobody listens: refused.
        drop(listener);
        let err = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err:?}");
    });
}

#[test]
fn unix_datagram_pair_and_paths() {
    let dir = TempDir::new("dgram");
    let (pa, pb) = (dir.0.join("a.sock"), dir.0.join("b.sock"));
    run("unix datagram", async move {
        let (x, y) = UnixDatagram::pair().unwrap();
        x.send(b"over the pair").await.unwrap();
        let mut buf = [0u8; 32];
        assert_eq!(y.peek(&mut buf).await.unwrap(), 13);
        let n = y.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"over the pair");
        assert_eq!(
            y.try_recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );

        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        a.send_to(b"to b", &pb).await.unwrap();
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"to b");
        assert_eq!(from.as_pathname(), Some(&*pa));
        b.writable().await.unwrap();
        b.try_send_to(b"to a", &pa).unwrap();
        let mut v = Vec::with_capacity(16);
        a.connect(&pb).unwrap();
        assert_eq!(a.recv_buf(&mut v).await.unwrap(), 4);
        assert_eq!(v, b"to a");
        assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(&*pb));

        // An unbound socket can send, but not to a socket connected to someone else; a
        // missing path is NotFound.
        let u = UnixDatagram::unbound().unwrap();
        let err = u.send_to(b"stranger", &pa).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err:?}");
        u.send_to(b"anon", &pb).await.unwrap();
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anon");
        assert!(from.as_pathname().is_none());
        let err = u
            .send_to(b"x", dir.0.join("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err:?}");
        let err = u.connect(dir.0.join("missing.sock")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err:?}");
        let err = UnixDatagram::bind(&pa).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");

        // Shutdown of the write half makes sending fail.
        x.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(x.send(b"late").await.is_err());
        let std = y.into_std().unwrap();
        assert!(std.local_addr().is_ok());
    });
}

#[test]
fn unix_datagram_abstract_names() {
    run("unix datagram abstract", async {
        let name = abstract_name("dgram");
        let server = UnixDatagram::bind(&name).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"hi", &name).await.unwrap();
        let mut buf = [0u8; 4];
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hi");
        client.connect(&name).unwrap();
        client.send(b"again").await.unwrap();
        let mut buf = [0u8; 8];
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"again");
    });
}

#[test]
fn split_halves_have_the_readiness_api() {
    run("halves readiness", async {
        let (client, server) = tcp_pair().await;
        let (mut read, write) = server.into_split();
        let (_client_read, client_write) = client.into_split();
        client_write.writable().await.unwrap();
        assert_eq!(client_write.try_write(b"halves").unwrap(), 6);
        let mut buf = [0u8; 6];
        let mut n = read.peek(&mut buf).await.unwrap();
        while n < 6 {
            n = read.peek(&mut buf).await.unwrap();
        }
        assert_eq!(&buf, b"halves");
        read.readable().await.unwrap();
        let mut got = Vec::with_capacity(16);
        assert_eq!(read.try_read_buf(&mut got).unwrap(), 6);
        assert_eq!(got, b"halves");
        assert_eq!(
            read.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(write.ready(Interest::WRITABLE).await.unwrap().is_writable());

        // Borrowed halves too.
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let (ra, _wa) = a.split();
        let (_rb, wb) = b.split();
        wb.writable().await.unwrap();
        wb.try_write_vectored(&[IoSlice::new(b"x"), IoSlice::new(b"y")])
            .unwrap();
        ra.readable().await.unwrap();
        let mut two = [0u8; 2];
        assert_eq!(ra.try_read(&mut two).unwrap(), 2);
        assert_eq!(&two, b"xy");
    });
}
