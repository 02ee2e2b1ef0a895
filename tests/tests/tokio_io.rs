//! tokio's I/O traits on brisk's streams (feature `tokio-io` of brisk, turned on here
//! through brisk-compat): tokio-util codecs over a brisk `TcpStream`, on a brisk runtime, with
//! no tokio runtime anywhere. Also the futures-io side: buffered line reading.

use std::time::Duration;

use brisk::net::{TcpListener, TcpStream, UnixStream};
use futures_util::{AsyncBufReadExt, AsyncWriteExt, SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LengthDelimitedCodec, LinesCodec};

const LIMIT: Duration = Duration::from_secs(20);

fn runtime() -> brisk::Runtime {
    brisk::Runtime::builder().worker_threads(2).build().unwrap()
}

/// Line server: answers each line with the line upper-cased; `quit` ends the connection.
async fn upper_server(stream: TcpStream) {
    let mut lines = Framed::new(stream, LinesCodec::new());
    while let Some(line) = lines.next().await {
        let line = line.unwrap();
        if line == "quit" {
            break;
        }
        lines.send(line.to_uppercase()).await.unwrap();
    }
}

#[test]
fn framed_lines_over_tcp() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = brisk::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            upper_server(stream).await;
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let mut client = Framed::new(stream, LinesCodec::new());
        for i in 0..100 {
            client.send(format!("line {i} from brisk")).await.unwrap();
            let reply = brisk::time::timeout(LIMIT, client.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(reply, format!("LINE {i} FROM BRISK"));
        }
        // Many lines in one go: the codec splits what arrives in one read.
        let batch: Vec<String> = (0..500).map(|i| format!("batch {i}")).collect();
        for line in &batch {
            client.feed(line.clone()).await.unwrap();
        }
        SinkExt::<String>::flush(&mut client).await.unwrap();
        for line in &batch {
            let reply = client.next().await.unwrap().unwrap();
            assert_eq!(reply, line.to_uppercase());
        }
        client.send("quit".to_string()).await.unwrap();
        // The server closed: end of stream.
        assert!(client.next().await.is_none());
        server.await.unwrap();
    });
}

#[test]
fn length_delimited_over_owned_halves() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Echo server over split owned halves, frames moved from reader to writer.
        let server = brisk::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, write) = stream.into_split();
            let mut frames = FramedRead::new(read, LengthDelimitedCodec::new());
            let mut out = FramedWrite::new(write, LengthDelimitedCodec::new());
            while let Some(frame) = frames.next().await {
                out.send(frame.unwrap().freeze()).await.unwrap();
            }
            // Dropping `out` drops the owned write half, which shuts down our write side.
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let (read, write) = stream.into_split();
        let mut out = FramedWrite::new(write, LengthDelimitedCodec::new());
        let mut frames = FramedRead::new(read, LengthDelimitedCodec::new());
        let sizes = [0usize, 1, 100, 4096, 100_000, 1 << 20];
        let writer = brisk::spawn(async move {
            for (i, &size) in sizes.iter().enumerate() {
                let frame = bytes::Bytes::from(vec![i as u8; size]);
                out.send(frame).await.unwrap();
            }
            // Shut down the write half through tokio's trait: the server sees end of stream.
            tokio::io::AsyncWriteExt::shutdown(out.get_mut())
                .await
                .unwrap();
        });
        for (i, &size) in sizes.iter().enumerate() {
            let frame = brisk::time::timeout(LIMIT, frames.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(frame.len(), size);
            assert!(frame.iter().all(|&b| b == i as u8));
        }
        assert!(frames.next().await.is_none());
        writer.await.unwrap();
        server.await.unwrap();
    });
}

#[test]
fn tokio_io_util_on_unix_stream_and_borrowed_halves() {
    let rt = runtime();
    rt.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        // tokio's extension traits (`AsyncWriteExt::write_all`, `AsyncReadExt::read_exact`)
        // through the tokio trait impls. (Fully qualified: the streams also have inherent
        // methods of the same names.)
        tokio::io::AsyncWriteExt::write_all(&mut a, b"ping")
            .await
            .unwrap();
        let mut buf = [0u8; 4];
        AsyncReadExt::read_exact(&mut b, &mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        // Borrowed halves: copy everything `a` sends back to `a`, with tokio::io::copy.
        let echo = brisk::spawn(async move {
            let (mut r, mut w) = b.split();
            tokio::io::copy(&mut r, &mut w).await.unwrap()
        });
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let (mut ra, mut wa) = a.into_split();
        let sent = payload.clone();
        let writer = brisk::spawn(async move {
            tokio::io::AsyncWriteExt::write_all(&mut wa, &sent)
                .await
                .unwrap();
            tokio::io::AsyncWriteExt::shutdown(&mut wa).await.unwrap();
        });
        let mut back = Vec::new();
        brisk::time::timeout(LIMIT, AsyncReadExt::read_to_end(&mut ra, &mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, payload);
        writer.await.unwrap();
        assert_eq!(echo.await.unwrap(), payload.len() as u64);
    });
}

#[test]
fn futures_io_buffered_lines() {
    // The streams are unbuffered (no `AsyncBufRead`); futures' `BufReader` adds the buffer.
    let rt = runtime();
    rt.block_on(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut lines = futures_util::io::BufReader::new(b).lines();
        futures_util::AsyncWriteExt::write_all(&mut a, b"one\ntwo\nthree")
            .await
            .unwrap();
        a.close().await.unwrap();
        let mut got = Vec::new();
        while let Some(line) = lines.next().await {
            got.push(line.unwrap());
        }
        assert_eq!(got, ["one", "two", "three"]);
    });
}
