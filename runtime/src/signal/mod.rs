//! Signals: [`ctrl_c`] and, on Unix, [`unix::signal`] with [`unix::SignalKind`].
//!
//! Delivery runs on the reactor: each listener is a self-pipe that signal-hook's process-wide
//! handler writes to, registered with the reactor like a socket. No thread waits for signals.
//!
//! Behaviour, as with tokio:
//! * A listener sees the signals that arrive after it was created (for [`ctrl_c`], after its
//!   future was first polled). Several arrivals between two `recv` calls are one event.
//! * Every listener of a signal sees it: two listeners for `SIGINT` both wake.
//! * Once brisk listens for a signal, the signal's default action (for `SIGINT`, ending the
//!   process) is replaced for the rest of the process's life, even after every listener is
//!   dropped.
//! * `SIGKILL`, `SIGSTOP` and the fault signals (`SIGILL`, `SIGFPE`, `SIGSEGV`) cannot be
//!   listened for: creating such a listener fails with an error.
//!
//! ```no_run
//! #[brisk::main]
//! async fn main() -> std::io::Result<()> {
//!     println!("waiting for Ctrl-C");
//!     brisk::signal::ctrl_c().await?;
//!     println!("bye");
//!     Ok(())
//! }
//! ```

pub mod unix;

use std::io;

/// Waits for the next Ctrl-C (`SIGINT`) that arrives after this future is first polled.
///
/// The first poll installs brisk's handler for `SIGINT`, which replaces the default action
/// (ending the process) from then on.
///
/// # Panics
///
/// Panics (when polled) if there is no current reactor (not within a brisk runtime).
pub async fn ctrl_c() -> io::Result<()> {
    let mut signal = unix::signal(unix::SignalKind::interrupt())?;
    match signal.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other(
            "the brisk runtime shut down while waiting for Ctrl-C",
        )),
    }
}
