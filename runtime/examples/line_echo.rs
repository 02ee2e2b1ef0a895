//! A line-based echo server on `brisk::io`'s helpers: `BufReader` and `lines()`.
//!
//! ```text
//! cargo run -p brisk --example line_echo -- 127.0.0.1:7001
//! printf 'one\ntwo\n' | nc 127.0.0.1 7001      # one / two, each on its line
//! ```
//!
//! With no argument it binds an ephemeral port on 127.0.0.1, sends itself a few lines, checks
//! the echoes and exits.

use brisk::io::{AsyncBufReadExt, BufReader};
use brisk::net::{TcpListener, TcpStream};
use brisk::stream::StreamExt;

/// Echoes each line read from `stream` (without its line ending, then `\n`), until the peer
/// closes its write half.
async fn echo_lines(stream: TcpStream) -> std::io::Result<usize> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut count = 0;
    while let Some(line) = lines.next().await {
        let line = line?;
        write.write_all(format!("{line}\n").as_bytes()).await?;
        count += 1;
    }
    Ok(count)
}

/// Accepts connections forever, one task per connection.
async fn accept_loop(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        brisk::spawn(async move {
            match echo_lines(stream).await {
                Ok(n) => eprintln!("{peer}: echoed {n} lines"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}

#[brisk::main]
async fn main() -> std::io::Result<()> {
    let arg = std::env::args().nth(1);
    let listener = TcpListener::bind(arg.as_deref().unwrap_or("127.0.0.1:0")).await?;
    let addr = listener.local_addr()?;
    println!("line echo server listening on {addr}");
    if arg.is_some() {
        return accept_loop(listener).await;
    }

    // Self-test: the server as a task, one client sending three lines.
    let server = brisk::spawn(accept_loop(listener));
    let (read, mut write) = TcpStream::connect(addr).await?.into_split();
    write.write_all(b"first\nsecond\r\nthird\n").await?;
    drop(write);
    let echoed: Vec<String> = BufReader::new(read)
        .lines()
        .map(|line| line.expect("read a line"))
        .collect()
        .await;
    assert_eq!(echoed, ["first", "second", "third"]);
    println!("echoed: {echoed:?}");
    server.abort();
    Ok(())
}
