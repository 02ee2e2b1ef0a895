//! [`File`]: an open file whose reads, writes and seeks run on the blocking pool.
//!
//! # Invariants
//!
//! * At most one blocking operation is in flight (`State::Busy`); every poll first waits for
//!   it, so operations happen in the order they were issued.
//! * In `State::Idle`, `buf[pos..]` are bytes read ahead of the caller: the std file's
//!   position is past them. A write or a relative seek first moves the position back by
//!   their count, so the file's position is always the caller's.
//! * A write is handed to the blocking pool and reported written at once (as tokio does);
//!   its error, if any, is returned by the next operation on the file (`flush` included).

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use crate::fs::asyncify;
use crate::task::JoinHandle;

/// The most one blocking read or write moves at once.
const MAX_BUF: usize = 2 * 1024 * 1024;

/// An open file.
///
/// Read, write and seek through [`AsyncRead`](crate::io::AsyncRead),
/// [`AsyncWrite`](crate::io::AsyncWrite) and [`AsyncSeek`](crate::io::AsyncSeek) (with the
/// helpers of [`crate::io`]); each operation runs on the blocking pool. Writes are
/// write-behind: `write` returns once the bytes are handed over, so call
/// [`flush`](crate::io::AsyncWriteExt::flush) (or [`sync_all`](File::sync_all)) to wait for
/// them and see their errors.
///
/// Each read, write or seek is one trip to the blocking pool (a write or read moves up to
/// 2 MiB per trip). For many small writes or reads, wrap the file in
/// [`BufWriter`](crate::io::BufWriter) or [`BufReader`](crate::io::BufReader), which batch them
/// into few trips.
pub struct File {
    std: Arc<std::fs::File>,
    state: State,
}

struct Buf {
    data: Vec<u8>,
    /// Read-ahead bytes not yet returned: `data[pos..]`.
    pos: usize,
}

impl Buf {
    fn read_ahead(&self) -> usize {
        self.data.len() - self.pos
    }
}

enum State {
    Idle(Buf),
    Busy(JoinHandle<(Buf, Outcome)>),
}

enum Outcome {
    Read(io::Result<()>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

fn lost(e: crate::task::JoinError) -> io::Error {
    if e.is_panic() {
        std::panic::resume_unwind(e.into_panic())
    }
    io::Error::other(e)
}

impl File {
    /// Opens the file at `path` for reading (`std::fs::File::open`).
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(
            asyncify(move || std::fs::File::open(path)).await?,
        ))
    }

    /// Creates (or truncates) the file at `path` for writing (`std::fs::File::create`).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(
            asyncify(move || std::fs::File::create(path)).await?,
        ))
    }

    /// Creates the file at `path` for writing; fails with `AlreadyExists` if it exists
    /// (`std::fs::File::create_new`).
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(
            asyncify(move || std::fs::File::create_new(path)).await?,
        ))
    }

    /// Opens the file at `path` with `options` (`std::fs::OpenOptions::open`).
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: std::fs::OpenOptions,
    ) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(asyncify(move || options.open(path)).await?))
    }

    /// Wraps an open std file.
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            state: State::Idle(Buf {
                data: Vec::new(),
                pos: 0,
            }),
        }
    }

    /// Waits for the operation in flight and puts the file's position back where the caller
    /// is (before any read-ahead).
    async fn settle(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_settle(cx)).await
    }

    fn poll_settle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Busy(_) => ready!(self.poll_complete(cx))?,
                State::Idle(buf) if buf.read_ahead() > 0 => {
                    let back = buf.read_ahead() as i64;
                    let mut buf = std::mem::replace(
                        buf,
                        Buf {
                            data: Vec::new(),
                            pos: 0,
                        },
                    );
                    buf.data.clear();
                    buf.pos = 0;
                    let std = self.std.clone();
                    self.state = State::Busy(crate::task::spawn_blocking(move || {
                        let r = (&*std).seek(SeekFrom::Current(-back));
                        (buf, Outcome::Seek(r))
                    }));
                }
                State::Idle(_) => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Waits for the blocking operation in flight (if any); returns its error, except for a
    /// read's, which the read itself reports.
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let State::Busy(handle) = &mut self.state else {
            return Poll::Ready(Ok(()));
        };
        let result = ready!(Pin::new(handle).poll(cx));
        let (buf, outcome) = match result {
            Ok(done) => done,
            Err(e) => {
                self.state = State::Idle(Buf {
                    data: Vec::new(),
                    pos: 0,
                });
                return Poll::Ready(Err(lost(e)));
            }
        };
        self.state = State::Idle(buf);
        Poll::Ready(match outcome {
            Outcome::Write(r) => r,
            Outcome::Seek(r) => r.map(drop),
            Outcome::Read(_) => Ok(()),
        })
    }

    /// The file's metadata, once the operations in flight are done.
    pub async fn metadata(&mut self) -> io::Result<std::fs::Metadata> {
        self.settle().await?;
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// Flushes the file's data and metadata to the device (`fsync`), after the writes in
    /// flight.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.settle().await?;
        let std = self.std.clone();
        asyncify(move || std.sync_all()).await
    }

    /// Flushes the file's data to the device (`fdatasync`), after the writes in flight.
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.settle().await?;
        let std = self.std.clone();
        asyncify(move || std.sync_data()).await
    }

    /// Truncates or extends the file to `size` bytes (the position is unchanged).
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.settle().await?;
        let std = self.std.clone();
        asyncify(move || std.set_len(size)).await
    }

    /// Waits for the operations in flight and returns the std file, positioned where this
    /// file's caller was.
    pub async fn into_std(mut self) -> std::fs::File {
        // An error of a write in flight is lost here, as with a std file dropped unflushed.
        let _ = self.settle().await;
        match Arc::try_unwrap(self.std) {
            Ok(std) => std,
            // Only the finished blocking task could still hold a clone, and it is done.
            Err(shared) => shared.try_clone().expect("duplicating the file descriptor"),
        }
    }
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle(buf) => {
                    if buf.read_ahead() > 0 || dst.is_empty() {
                        let n = buf.read_ahead().min(dst.len());
                        dst[..n].copy_from_slice(&buf.data[buf.pos..buf.pos + n]);
                        buf.pos += n;
                        return Poll::Ready(Ok(n));
                    }
                    let want = dst.len().min(MAX_BUF);
                    let mut buf = std::mem::replace(
                        buf,
                        Buf {
                            data: Vec::new(),
                            pos: 0,
                        },
                    );
                    buf.data.clear();
                    buf.data.resize(want, 0);
                    buf.pos = 0;
                    let std = this.std.clone();
                    this.state = State::Busy(crate::task::spawn_blocking(move || {
                        let r = loop {
                            match (&*std).read(&mut buf.data) {
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                r => break r,
                            }
                        };
                        let outcome = match r {
                            Ok(n) => {
                                buf.data.truncate(n);
                                Outcome::Read(Ok(()))
                            }
                            Err(e) => {
                                buf.data.clear();
                                Outcome::Read(Err(e))
                            }
                        };
                        (buf, outcome)
                    }));
                }
                State::Busy(handle) => {
                    let (buf, outcome) = match ready!(Pin::new(handle).poll(cx)) {
                        Ok(done) => done,
                        Err(e) => {
                            this.state = State::Idle(Buf {
                                data: Vec::new(),
                                pos: 0,
                            });
                            return Poll::Ready(Err(lost(e)));
                        }
                    };
                    let at_eof = matches!(outcome, Outcome::Read(Ok(()))) && buf.data.is_empty();
                    this.state = State::Idle(buf);
                    match outcome {
                        Outcome::Read(Err(e)) | Outcome::Write(Err(e)) | Outcome::Seek(Err(e)) => {
                            return Poll::Ready(Err(e))
                        }
                        Outcome::Read(Ok(())) if at_eof => return Poll::Ready(Ok(0)),
                        _ => {}
                    }
                }
            }
        }
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Busy(_) => ready!(this.poll_complete(cx))?,
                State::Idle(buf) => {
                    let back = buf.read_ahead() as i64;
                    let n = src.len().min(MAX_BUF);
                    let mut buf = std::mem::replace(
                        buf,
                        Buf {
                            data: Vec::new(),
                            pos: 0,
                        },
                    );
                    buf.data.clear();
                    buf.data.extend_from_slice(&src[..n]);
                    buf.pos = buf.data.len();
                    let std = this.std.clone();
                    this.state = State::Busy(crate::task::spawn_blocking(move || {
                        let mut r = Ok(());
                        if back > 0 {
                            r = (&*std).seek(SeekFrom::Current(-back)).map(drop);
                        }
                        if r.is_ok() {
                            r = (&*std).write_all(&buf.data);
                        }
                        buf.data.clear();
                        buf.pos = 0;
                        (buf, Outcome::Write(r))
                    }));
                    return Poll::Ready(Ok(n));
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_complete(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_complete(cx)
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Busy(handle) => {
                    let (buf, outcome) = match ready!(Pin::new(handle).poll(cx)) {
                        Ok(done) => done,
                        Err(e) => {
                            this.state = State::Idle(Buf {
                                data: Vec::new(),
                                pos: 0,
                            });
                            return Poll::Ready(Err(lost(e)));
                        }
                    };
                    this.state = State::Idle(buf);
                    match outcome {
                        // The seek this call started (the loop only starts one, then returns).
                        Outcome::Seek(r) => return Poll::Ready(r),
                        Outcome::Write(Err(e)) => return Poll::Ready(Err(e)),
                        _ => {}
                    }
                }
                State::Idle(buf) => {
                    // Relative to the caller's position, which is behind the read-ahead.
                    let pos = match pos {
                        SeekFrom::Current(n) => SeekFrom::Current(n - buf.read_ahead() as i64),
                        other => other,
                    };
                    let mut buf = std::mem::replace(
                        buf,
                        Buf {
                            data: Vec::new(),
                            pos: 0,
                        },
                    );
                    buf.data.clear();
                    buf.pos = 0;
                    let std = this.std.clone();
                    this.state = State::Busy(crate::task::spawn_blocking(move || {
                        let r = (&*std).seek(pos);
                        (buf, Outcome::Seek(r))
                    }));
                }
            }
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("busy", &matches!(self.state, State::Busy(_)))
            .finish()
    }
}
