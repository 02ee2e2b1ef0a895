//! A TCP echo server: one task per connection, each echoing what it reads.
//!
//! ```text
//! cargo run -p brisk --example echo_server -- 127.0.0.1:7000
//! ```
//!
//! With no argument it binds an ephemeral port on 127.0.0.1, connects a few clients to
//! itself, checks their echoes and exits: a self-contained demonstration that finishes.

use std::net::SocketAddr;

use brisk::net::{TcpListener, TcpStream};

/// Echoes everything read from `stream` back to it until the peer closes its write half.
async fn echo(mut stream: TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Accepts connections forever, spawning an echo task for each.
async fn accept_loop(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        // Spawned eagerly: the task reads at once and, with nothing to read yet, parks on the
        // socket's readiness; `spawn` then returns and the loop accepts the next connection.
        brisk::spawn(async move {
            match echo(stream).await {
                Ok(n) => eprintln!("{peer}: echoed {n} bytes"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}

/// Connects to `addr`, sends `message`, and returns what comes back.
async fn client(addr: SocketAddr, message: String) -> std::io::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    let (mut read, mut write) = stream.into_split();
    write.write_all(message.as_bytes()).await?;
    // Dropping the owned write half shuts down our write direction: the server sees EOF.
    drop(write);
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = read.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

#[brisk::main]
async fn main() -> std::io::Result<()> {
    let arg = std::env::args().nth(1);
    let listener = TcpListener::bind(arg.as_deref().unwrap_or("127.0.0.1:0")).await?;
    let addr = listener.local_addr()?;
    println!("echo server listening on {addr}");
    if arg.is_some() {
        return accept_loop(listener).await;
    }

    // Self-test: run the server as a task and talk to it.
    let server = brisk::spawn(accept_loop(listener));
    let clients: Vec<_> = (0..4)
        .map(|i| brisk::spawn(client(addr, format!("hello #{i} from a brisk client"))))
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let reply = c.await.expect("client task panicked")?;
        assert_eq!(reply, format!("hello #{i} from a brisk client"));
        println!("client {i}: {reply}");
    }
    server.abort();
    Ok(())
}
