//! [`read_dir`]: the entries of a directory, fetched in batches on the blocking pool.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use crate::fs::asyncify;
use crate::task::JoinHandle;

/// Entries fetched per blocking call.
const BATCH: usize = 32;

type Batch = (Option<std::fs::ReadDir>, VecDeque<io::Result<DirEntry>>);

/// Opens the directory at `path` for reading its entries (`std::fs::read_dir`): a missing
/// directory is `NotFound`, a file `NotADirectory`.
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        state: State::Idle(Some(std), VecDeque::new()),
    })
}

/// The entries of a directory, from [`read_dir`]; read them with
/// [`next_entry`](ReadDir::next_entry). Entries come in the order the system gives them.
pub struct ReadDir {
    state: State,
}

enum State {
    /// The std iterator (`None` once exhausted) and the entries fetched but not returned.
    Idle(Option<std::fs::ReadDir>, VecDeque<io::Result<DirEntry>>),
    Busy(JoinHandle<Batch>),
}

impl ReadDir {
    /// The next entry, or `None` after the last one.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        std::future::poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry (the poll form of [`next_entry`](ReadDir::next_entry)).
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.state {
                State::Idle(std, buffered) => {
                    if let Some(entry) = buffered.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    let Some(mut std) = std.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    let mut buffered = std::mem::take(buffered);
                    self.state = State::Busy(crate::task::spawn_blocking(move || {
                        for entry in std.by_ref().take(BATCH) {
                            buffered.push_back(entry.map(|e| DirEntry(Arc::new(e))));
                        }
                        // Fewer than a batch: the directory is exhausted.
                        let more = buffered.len() == BATCH;
                        (more.then_some(std), buffered)
                    }));
                }
                State::Busy(handle) => {
                    let (std, buffered) = match ready!(Pin::new(handle).poll(cx)) {
                        Ok(batch) => batch,
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(e) => {
                            self.state = State::Idle(None, VecDeque::new());
                            return Poll::Ready(Err(io::Error::other(e)));
                        }
                    };
                    self.state = State::Idle(std, buffered);
                }
            }
        }
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir").finish_non_exhaustive()
    }
}

/// One entry of a directory, from [`ReadDir::next_entry`].
#[derive(Clone)]
pub struct DirEntry(Arc<std::fs::DirEntry>);

impl DirEntry {
    /// The full path of the entry (the directory's path joined with the file name).
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's file name, without its directory.
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's inode number.
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        use std::os::unix::fs::DirEntryExt;
        self.0.ino()
    }

    /// The entry's metadata (not following a symbolic link).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let entry = self.0.clone();
        asyncify(move || entry.metadata()).await
    }

    /// The entry's file type (not following a symbolic link).
    pub async fn file_type(&self) -> io::Result<std::fs::FileType> {
        let entry = self.0.clone();
        asyncify(move || entry.file_type()).await
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}
