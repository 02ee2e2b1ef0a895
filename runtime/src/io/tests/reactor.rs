//! The reactor alone (hand-written wakers, explicit turns), the coop budget, and use of
//! sockets outside a reactor.

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use super::support::CountingWaker;
use crate::coop;
use crate::io::{AsyncRead, Handle, Reactor};
use crate::net::{TcpListener, TcpStream, UdpSocket, UnixStream};

/// Turns `reactor` until `done()` or 5 s pass; returns the sum of the wake counts.
fn turn_until(reactor: &mut Reactor, mut done: impl FnMut() -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut woken = 0;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "condition not reached within 5 s"
        );
        woken += reactor.turn(Some(Duration::from_millis(100))).unwrap();
    }
    woken
}

#[test]
fn udp_readiness_wakes_exactly_the_registered_waker() {
    let mut reactor = Reactor::new().unwrap();
    let _enter = reactor.handle().enter();
    let a = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    let b = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    let (count_a, waker_a) = CountingWaker::new();
    let (count_b, waker_b) = CountingWaker::new();
    let mut buf = [0u8; 16];
    assert!(a
        .poll_recv(&mut Context::from_waker(&waker_a), &mut buf)
        .is_pending());
    assert!(b
        .poll_recv(&mut Context::from_waker(&waker_b), &mut buf)
        .is_pending());

    // Initial writable events wake nobody: no one waits to write.
    let woken = reactor.turn(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(woken, 0);

    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"ping", a.local_addr().unwrap()).unwrap();
    let woken = turn_until(&mut reactor, || count_a.count() > 0);
    assert_eq!(woken, 1);
    assert_eq!(count_a.count(), 1);
    assert_eq!(count_b.count(), 0);

    match a.poll_recv(&mut Context::from_waker(&waker_a), &mut buf) {
        Poll::Ready(Ok(4)) => assert_eq!(&buf[..4], b"ping"),
        other => panic!("expected the datagram, got {other:?}"),
    }
    // Drained: the next poll parks the waker again, and nothing else was woken.
    assert!(a
        .poll_recv(&mut Context::from_waker(&waker_a), &mut buf)
        .is_pending());
    assert!(b
        .poll_recv(&mut Context::from_waker(&waker_b), &mut buf)
        .is_pending());
    assert_eq!(reactor.turn(Some(Duration::from_millis(20))).unwrap(), 0);
    assert_eq!((count_a.count(), count_b.count()), (1, 0));
}

#[test]
fn unpark_interrupts_a_blocked_turn() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (started_tx, started_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let t = thread::spawn(move || {
        started_tx.send(()).unwrap();
        let r = reactor.turn(None);
        done_tx.send(r.map_err(|e| e.to_string())).unwrap();
        reactor
    });
    started_rx.recv().unwrap();
    thread::sleep(Duration::from_millis(100));
    // Still blocked: nothing has happened yet.
    assert!(done_rx.try_recv().is_err());
    handle.unpark();
    let result = done_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("unpark did not interrupt the blocked turn");
    assert_eq!(result, Ok(0));
    let mut reactor = t.join().unwrap();

    // An unpark before the turn makes the next turn return at once; many unparks are
    // absorbed by one turn.
    for _ in 0..1000 {
        handle.unpark();
    }
    let start = Instant::now();
    assert_eq!(reactor.turn(Some(Duration::from_secs(5))).unwrap(), 0);
    assert!(start.elapsed() < Duration::from_secs(2));
    let start = Instant::now();
    assert_eq!(reactor.turn(Some(Duration::from_millis(100))).unwrap(), 0);
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "a consumed unpark woke a later turn"
    );
}

#[test]
fn coop_zero_budget_returns_pending_and_wakes() {
    let (count, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    coop::set_budget(Some(0));
    assert_eq!(coop::poll_proceed(&mut cx), Poll::Pending);
    assert_eq!(count.count(), 1);
    assert_eq!(coop::budget(), Some(0));
    coop::set_budget(Some(3));
    assert_eq!(coop::poll_proceed(&mut cx), Poll::Ready(()));
    assert_eq!(coop::budget(), Some(2));
    coop::set_budget(None);
    assert_eq!(coop::poll_proceed(&mut cx), Poll::Ready(()));
    assert_eq!(coop::budget(), None);
    assert_eq!(count.count(), 1);
}

#[test]
fn coop_budget_throttles_always_ready_io() {
    let mut reactor = Reactor::new().unwrap();
    let _enter = reactor.handle().enter();
    let sock = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let total = coop::DEFAULT_BUDGET as usize + 50;
    for i in 0..total {
        sender
            .send_to(&(i as u32).to_le_bytes(), sock.local_addr().unwrap())
            .unwrap();
    }
    let (count, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut buf = [0u8; 8];
    assert!(sock.poll_recv(&mut cx, &mut buf).is_pending());
    turn_until(&mut reactor, || count.count() > 0);
    let woken_by_reactor = count.count();

    // Every datagram is queued, so every poll could succeed: the budget must stop it.
    coop::set_budget(Some(coop::DEFAULT_BUDGET));
    let mut received = 0;
    while let Poll::Ready(r) = sock.poll_recv(&mut cx, &mut buf) {
        assert_eq!(r.unwrap(), 4);
        assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()), received);
        received += 1;
        assert!(received as usize <= total);
    }
    assert_eq!(received, coop::DEFAULT_BUDGET);
    assert_eq!(
        count.count(),
        woken_by_reactor + 1,
        "throttled task not woken"
    );

    // A new tick: the rest is there.
    coop::set_budget(Some(coop::DEFAULT_BUDGET));
    while let Poll::Ready(r) = sock.poll_recv(&mut cx, &mut buf) {
        r.unwrap();
        received += 1;
    }
    assert_eq!(received as usize, total);
    coop::set_budget(None);
}

#[test]
fn coop_zero_budget_blocks_a_ready_tcp_read() {
    let mut reactor = Reactor::new().unwrap();
    let _enter = reactor.handle().enter();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = std::net::TcpStream::connect(std_listener.local_addr().unwrap()).unwrap();
    let mut stream = TcpStream::from_std(std_listener.accept().unwrap().0).unwrap();
    std::io::Write::write_all(&mut peer, b"data").unwrap();

    let (count, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut buf = [0u8; 8];
    // Nothing has been dispatched yet, so the first poll parks the waker.
    assert!(std::pin::Pin::new(&mut stream)
        .poll_read(&mut cx, &mut buf)
        .is_pending());
    turn_until(&mut reactor, || count.count() > 0);

    // Readable, but the budget is spent: Pending, and the task is woken to retry later.
    coop::set_budget(Some(0));
    let before = count.count();
    assert!(std::pin::Pin::new(&mut stream)
        .poll_read(&mut cx, &mut buf)
        .is_pending());
    assert_eq!(count.count(), before + 1);

    // A fresh budget lets the read through and spends one unit.
    coop::set_budget(Some(1));
    let first = std::pin::Pin::new(&mut stream).poll_read(&mut cx, &mut buf);
    assert_eq!(coop::budget(), Some(0));
    match first {
        Poll::Ready(Ok(4)) => assert_eq!(&buf[..4], b"data"),
        other => panic!("expected the data, got {other:?}"),
    }
    coop::set_budget(None);
}

#[test]
fn dropping_the_reactor_fails_pending_io() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let _enter = handle.enter();
    let sock = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    let (count, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut buf = [0u8; 8];
    assert!(sock.poll_recv(&mut cx, &mut buf).is_pending());
    drop(reactor);
    assert_eq!(count.count(), 1);
    match sock.poll_recv(&mut cx, &mut buf) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("shut down"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // New sockets cannot register with a dead reactor.
    assert!(UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).is_err());
}

#[test]
fn no_current_reactor_outside_a_runtime() {
    assert!(Handle::try_current().is_none());
    let reactor = Reactor::new().unwrap();
    {
        let _enter = reactor.handle().enter();
        assert!(Handle::try_current().is_some());
    }
    assert!(Handle::try_current().is_none());
}

#[test]
#[should_panic(
    expected = "there is no brisk reactor running: I/O types must be created from within a brisk runtime"
)]
fn unix_pair_outside_a_reactor_panics() {
    let _ = UnixStream::pair();
}

#[test]
#[should_panic(expected = "there is no brisk reactor running")]
fn handle_current_outside_a_reactor_panics() {
    let _ = Handle::current();
}

#[test]
#[should_panic(expected = "there is no brisk reactor running")]
fn async_bind_polled_outside_a_reactor_panics() {
    let (_count, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    let fut = pin!(TcpListener::bind("127.0.0.1:0"));
    let _ = fut.poll(&mut cx);
}

#[test]
fn handle_is_send_and_sync_and_reactor_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Handle>();
    send::<Reactor>();
    send_sync::<TcpStream>();
    send_sync::<UdpSocket>();
    send_sync::<UnixStream>();
    send_sync::<crate::net::tcp::OwnedReadHalf>();
    send_sync::<crate::net::unix::OwnedWriteHalf>();
}
