//! tokio-util's `LinesCodec` over brisk sockets, through the `tokio-io` feature.
//!
//! ```text
//! cargo run -p brisk --features tokio-io --example codec_lines
//! ```
//!
//! A server task frames each connection with `Framed<TcpStream, LinesCodec>` and answers every
//! line with its length; a client does the same on its side. No tokio runtime is involved:
//! only tokio's I/O traits, implemented by brisk's stream types.

use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::{Framed, LinesCodec};

use brisk::net::{TcpListener, TcpStream};

#[brisk::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = brisk::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut framed = Framed::new(stream, LinesCodec::new());
        while let Some(line) = framed.next().await {
            let line = line?;
            framed.send(format!("{} bytes", line.len())).await?;
        }
        Ok::<_, tokio_util::codec::LinesCodecError>(())
    });

    let mut client = Framed::new(TcpStream::connect(addr).await?, LinesCodec::new());
    for word in ["brisk", "tokio-util", ""] {
        client.send(word).await?;
        let reply = client
            .next()
            .await
            .ok_or("server closed the connection")??;
        assert_eq!(reply, format!("{} bytes", word.len()));
        println!("{word:?} -> {reply}");
    }
    drop(client);
    server.await??;
    Ok(())
}
