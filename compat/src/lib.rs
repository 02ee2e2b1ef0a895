//! `brisk-compat`: the ecosystem on brisk. hyper 1.x runs on brisk through [`hyper`], and
//! tokio's I/O traits through the `tokio-io` feature.
//!
//! # Modules
//!
//! * [`hyper`] has [`BriskExecutor`](crate::hyper::BriskExecutor),
//!   [`BriskTimer`](crate::hyper::BriskTimer) and [`BriskIo`](crate::hyper::BriskIo), the three
//!   things hyper 1.x asks of a runtime.
//! * [`demo`] has the HTTP/1.1 service and graceful server of brisk's `http_server` example,
//!   shared with the integration tests and the `http_load` comparison.
//!
//! # Features
//!
//! * `tokio`: the `tokio` module and its `Compat` wrapper, which runs tokio-only code
//!   (`tokio::time`, `tokio::net`, `tokio::spawn`, and the crates built on them) inside brisk
//!   tasks, served by one lazily started tokio runtime thread.
//! * `tokio-io`: turns on brisk's feature of that name, which implements
//!   `tokio::io::AsyncRead`/`AsyncWrite` for [`brisk::net::TcpStream`],
//!   [`brisk::net::UnixStream`] and all their split halves, so that tokio-util codecs and
//!   other crates written against tokio's traits run on brisk (tokio's runtime is not used):
//!
//! ```ignore
//! // Cargo.toml: brisk-compat = { version = "0.1", features = ["tokio-io"] }
//! use tokio_util::codec::{Framed, LinesCodec};
//!
//! let stream = brisk::net::TcpStream::connect(addr).await?;
//! let mut lines = Framed::new(stream, LinesCodec::new());
//! ```
//!
//! The stream types always implement the `futures_io` traits: crates written against
//! `futures::io` need nothing from this crate.

#![warn(missing_docs)]

pub mod demo;
pub mod hyper;
#[cfg(feature = "tokio")]
pub mod tokio;
