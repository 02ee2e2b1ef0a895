//! Streams: the [`Stream`] trait and its combinators, re-exported from `futures-lite`.
//!
//! [`Lines`](crate::io::Lines) from [`AsyncBufReadExt::lines`](crate::io::AsyncBufReadExt::lines)
//! is a stream of lines: `while let Some(line) = lines.next().await` is tokio's
//! `while let Some(line) = lines.next_line().await?`.

pub use futures_lite::stream::{Stream, StreamExt};
