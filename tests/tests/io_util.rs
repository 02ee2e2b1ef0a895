//! `brisk::io`'s helpers (re-exported from futures-lite) on brisk's sockets, on the real
//! runtime: buffered line reading, `copy` through a proxy, `split`, `BufWriter`, `empty`,
//! `sink`, and end of stream from a closed peer.

use std::io;
use std::time::Duration;

use brisk::io::{
    copy, empty, sink, split, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter,
};
use brisk::net::{TcpListener, TcpStream, UnixStream};
use brisk::stream::StreamExt;
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

#[test]
fn lines_over_a_tcp_read_half_end_with_the_peer() {
    run("lines over tcp", async {
        let (client, server) = tcp_pair().await;
        let (read, _write) = server.into_split();
        let writer = brisk::spawn(async move {
            let mut client = client;
            // Lines split across writes, a CRLF, an empty line, and a last line without `\n`.
            for chunk in [&b"al"[..], b"pha\nbeta\r\n", b"\n", b"gam", b"ma"] {
                client.write_all(chunk).await.unwrap();
            }
            // Dropping the stream closes it: the reader sees end of stream.
        });
        let lines: Vec<String> = BufReader::new(read)
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        writer.await.unwrap();
        assert_eq!(lines, ["alpha", "beta", "", "gamma"]);
    });
}

#[test]
fn read_line_and_read_until_on_a_unix_stream() {
    run("read_line on unix", async {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"one\ntwo;three").await.unwrap();
        a.shutdown().await.unwrap();
        let mut reader = BufReader::new(b);
        let mut line = String::new();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 4);
        assert_eq!(line, "one\n");
        let mut field = Vec::new();
        assert_eq!(reader.read_until(b';', &mut field).await.unwrap(), 4);
        assert_eq!(field, b"two;");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "three");
        // At end of stream: 0, and again 0.
        line.clear();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 0);
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 0);
    });
}

#[test]
fn invalid_utf8_line_is_an_error() {
    run("invalid utf-8 line", async {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"ok\n\xff\xfe\n").await.unwrap();
        drop(a);
        let mut lines = BufReader::new(b).lines();
        assert_eq!(lines.next().await.unwrap().unwrap(), "ok");
        let err = lines.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err:?}");
    });
}

#[test]
fn copy_through_a_proxy_moves_every_byte() {
    const LEN: usize = 3 * 1024 * 1024 + 17;
    run("copy proxy", async {
        // client -> proxy -> upstream, with `copy` in the proxy.
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_addr = proxy.local_addr().unwrap();
        let proxy_task = brisk::spawn(async move {
            let (inbound, _) = proxy.accept().await.unwrap();
            let mut outbound = TcpStream::connect(upstream_addr).await.unwrap();
            let (mut from, _keep) = inbound.into_split();
            let n = copy(&mut from, &mut outbound).await.unwrap();
            outbound.shutdown().await.unwrap();
            n
        });
        let sink_task = brisk::spawn(async move {
            let (mut s, _) = upstream.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let mut client = TcpStream::connect(proxy_addr).await.unwrap();
        client.write_all(&data).await.unwrap();
        client.shutdown().await.unwrap();
        assert_eq!(proxy_task.await.unwrap(), LEN as u64);
        let got = sink_task.await.unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got == data, "the proxied bytes differ");
    });
}

#[test]
fn generic_split_reads_and_writes_concurrently() {
    run("split", async {
        let (client, mut server) = tcp_pair().await;
        let (mut read, mut write) = split(client);
        let echo = brisk::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                let n = server.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                server.write_all(&buf[..n]).await.unwrap();
            }
        });
        let reader = brisk::spawn(async move {
            let mut got = vec![0u8; 10];
            AsyncReadExt::read_exact(&mut read, &mut got).await.unwrap();
            (got, read)
        });
        write.write_all(b"0123456789").await.unwrap();
        let (got, _read) = reader.await.unwrap();
        assert_eq!(got, b"0123456789");
        // Closing the write half reaches the stream: the echo task sees end of stream.
        write.close().await.unwrap();
        echo.await.unwrap();
    });
}

#[test]
fn buf_writer_sends_only_on_flush_and_empty_sink_behave() {
    run("bufwriter", async {
        let (client, mut server) = tcp_pair().await;
        let mut w = BufWriter::new(client);
        w.write_all(b"buffered").await.unwrap();
        assert_eq!(w.buffer(), b"buffered");
        w.flush().await.unwrap();
        assert!(w.buffer().is_empty());
        let mut buf = [0u8; 8];
        assert_eq!(server.read_exact(&mut buf).await.unwrap(), 8);
        assert_eq!(&buf, b"buffered");
        // `close` shuts the write half: the server reads end of stream.
        w.close().await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);

        let mut nothing = Vec::new();
        assert_eq!(empty().read_to_end(&mut nothing).await.unwrap(), 0);
        assert_eq!(copy(&mut &b"discarded"[..], &mut sink()).await.unwrap(), 9);
    });
}

#[test]
fn read_exact_through_the_trait_fails_when_the_peer_closes_early() {
    run("read_exact eof", async {
        let (mut client, server) = tcp_pair().await;
        client.write_all(b"abc").await.unwrap();
        drop(client);
        let mut reader = BufReader::new(server);
        let mut buf = [0u8; 8];
        let err = AsyncReadExt::read_exact(&mut reader, &mut buf)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    });
}
