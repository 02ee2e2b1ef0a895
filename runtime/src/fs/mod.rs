//! Files and directories, on brisk's blocking pool.
//!
//! Every function here runs the matching `std::fs` call with [`spawn_blocking`] and awaits
//! it, as tokio's `tokio::fs` does: the calling task waits, its worker does not. Errors are
//! std's (`NotFound` for a missing file, ...).
//!
//! [`File`] implements [`AsyncRead`](crate::io::AsyncRead),
//! [`AsyncWrite`](crate::io::AsyncWrite) and [`AsyncSeek`](crate::io::AsyncSeek), so the
//! helpers of [`crate::io`] (`read_to_end`, `write_all`, `BufReader`, `copy`, ...) work on
//! it. [`read_dir`] fetches entries in batches, one blocking call per batch.
//!
//! ```no_run
//! use brisk::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn f() -> std::io::Result<()> {
//! brisk::fs::write("greeting.txt", "hello").await?;
//! assert_eq!(brisk::fs::read_to_string("greeting.txt").await?, "hello");
//!
//! let mut file = brisk::fs::File::create("log.txt").await?;
//! file.write_all(b"one line\n").await?;
//! file.flush().await?; // writes are handed to the blocking pool: flush waits for them
//! # Ok(()) }
//! ```
//!
//! All functions panic (when polled) outside a brisk runtime, as
//! [`spawn_blocking`] does.
//!
//! [`spawn_blocking`]: crate::task::spawn_blocking

mod file;
mod read_dir;

pub use file::File;
pub use read_dir::{read_dir, DirEntry, ReadDir};

use std::io;
use std::path::{Path, PathBuf};

/// Runs `f` on the blocking pool and returns its result; a panic in `f` resumes here.
pub(crate) async fn asyncify<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match crate::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(io::Error::other(e)),
    }
}

/// Reads the whole file at `path` (`std::fs::read`).
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read(path)).await
}

/// Reads the whole file at `path` as UTF-8 (`std::fs::read_to_string`); invalid UTF-8 is
/// an `InvalidData` error.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` to the file at `path`, creating or truncating it (`std::fs::write`).
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

/// Creates a directory (`std::fs::create_dir`); fails if it exists.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates a directory and all its missing parents (`std::fs::create_dir_all`).
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// The metadata of `path`, following symbolic links (`std::fs::metadata`).
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// The metadata of `path` itself, not following a symbolic link
/// (`std::fs::symlink_metadata`).
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// Whether `path` exists; errors other than "not found" are returned (`Path::try_exists`).
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify(move || path.try_exists()).await
}

/// Removes a file (`std::fs::remove_file`).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_file(path)).await
}

/// Removes an empty directory (`std::fs::remove_dir`).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir(path)).await
}

/// Removes a directory and everything in it (`std::fs::remove_dir_all`).
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Renames `from` to `to`, replacing `to` if it is a file (`std::fs::rename`).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Copies the contents and permissions of file `from` to `to`; returns the number of bytes
/// copied (`std::fs::copy`).
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// Creates a hard link `link` to `original` (`std::fs::hard_link`).
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify(move || std::fs::hard_link(original, link)).await
}

/// The target of the symbolic link at `path` (`std::fs::read_link`).
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_link(path)).await
}

/// The absolute, resolved form of `path` (`std::fs::canonicalize`).
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}

/// Sets the permissions of `path` (`std::fs::set_permissions`).
pub async fn set_permissions(path: impl AsRef<Path>, perm: std::fs::Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::set_permissions(path, perm)).await
}

/// Creates a symbolic link `link` pointing to `original` (`std::os::unix::fs::symlink`).
#[cfg(unix)]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify(move || std::os::unix::fs::symlink(original, link)).await
}
