//! A hyper 1.x HTTP/1.1 server on brisk, with graceful shutdown on Ctrl-C.
//!
//! ```text
//! cargo run --release -p brisk --example http_server -- --addr 127.0.0.1:3000
//! curl http://127.0.0.1:3000/                      # hello from brisk
//! curl 'http://127.0.0.1:3000/sum?n=1000'          # 500500, summed by 1000 child tasks
//! curl --data-binary @Cargo.toml http://127.0.0.1:3000/echo
//! ```
//!
//! The address comes from `--addr ADDR`, else the `BRISK_HTTP_ADDR` environment variable,
//! else `127.0.0.1:3000`; port 0 picks a free port. The first line on stdout is
//! `listening on http://ADDR` with the bound address.
//!
//! Ctrl-C (SIGINT) stops accepting, lets every connection finish the request it is serving,
//! and exits once all connections are closed; a second Ctrl-C exits at once.
//!
//! The service and the server loop live in `brisk_compat::demo`, shared with the
//! integration test `tests/tests/http.rs` and the load comparison
//! (`cargo run --release -p brisk-compat --example http_load`).

use std::io::Write;

use brisk::signal::unix::{signal, SignalKind};
use brisk_compat::demo::{serve, Shutdown};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = address()?;
    let shutdown = Shutdown::new();

    let rt = brisk::Runtime::new()?;
    let stats = rt.block_on(async {
        // Listen for SIGINT before serving: from here on Ctrl-C is brisk's to handle.
        let mut ctrl_c = signal(SignalKind::interrupt())?;
        let on_signal = shutdown.clone();
        brisk::spawn(async move {
            while ctrl_c.recv().await.is_some() {
                if on_signal.trigger() {
                    eprintln!(
                        "shutting down: finishing in-flight requests (Ctrl-C again to quit now)"
                    );
                } else {
                    std::process::exit(130);
                }
            }
        });
        let listener = brisk::net::TcpListener::bind(addr.as_str()).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{}", listener.local_addr()?)?;
        out.flush()?;
        drop(out);
        serve(listener, shutdown).await
    })?;
    eprintln!(
        "stopped: connections served: {}, ended with an error: {}",
        stats.connections, stats.connection_errors
    );
    Ok(())
}

/// `--addr ADDR` (or `--addr=ADDR`), else `$BRISK_HTTP_ADDR`, else `127.0.0.1:3000`.
fn address() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(std::env::var("BRISK_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into())),
        [flag, addr] if flag == "--addr" => Ok(addr.clone()),
        [arg] if arg.starts_with("--addr=") => Ok(arg["--addr=".len()..].to_string()),
        _ => Err(format!("usage: http_server [--addr ADDR], got {args:?}")),
    }
}
