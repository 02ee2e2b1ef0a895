//! Unix signals: [`signal`] creates a [`Signal`] listener for a [`SignalKind`].

use std::fmt;
use std::io;
use std::task::{ready, Context, Poll};

use signal_hook_mio::v1_0::Signals;

use crate::io::{Interest, Registered};

/// A kind of Unix signal: one of the named constructors, or any number with
/// [`from_raw`](SignalKind::from_raw).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// The signal with number `signum` (for signals without a constructor here, e.g.
    /// `SIGRTMIN + n`).
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`: a real-time timer expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process changed state.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal hung up (daemons often reload their configuration).
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: interrupt from the keyboard (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: write to a pipe with no reader.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: quit from the keyboard (Ctrl-\\).
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: a request to terminate.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`: user-defined.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`: user-defined.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

/// A listener for one kind of signal, from [`signal`].
///
/// [`recv`](Signal::recv) resolves once for the arrivals since the previous `recv`
/// (arrivals in between are coalesced).
pub struct Signal {
    kind: SignalKind,
    io: Registered<Signals>,
}

/// Starts listening for `kind`: signals that arrive from now on wake [`Signal::recv`].
///
/// The first listener for a signal installs brisk's handler for it, which replaces the
/// signal's default action for the rest of the process's life.
///
/// # Errors
///
/// Fails for `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE` and `SIGSEGV` (which cannot be
/// handled, or not safely), for numbers that are not signals, and if the self-pipe cannot
/// be created.
///
/// # Panics
///
/// Panics if there is no current reactor (not within a brisk runtime).
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signum = kind.0;
    if signal_hook::consts::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "brisk::signal: signal {signum} cannot be listened for \
                 (SIGKILL, SIGSTOP, SIGILL, SIGFPE and SIGSEGV are refused)"
            ),
        ));
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let max = libc::SIGRTMAX();
    // signal-hook's table holds signal numbers below 128.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let max = 127;
    if signum <= 0 || signum > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("brisk::signal: {signum} is not a signal number"),
        ));
    }
    let handle = crate::io::Handle::current();
    let signals = Signals::new([signum])?;
    Ok(Signal {
        kind,
        io: Registered::with_handle(signals, Interest::READABLE, &handle)?,
    })
}

impl Signal {
    /// Waits for the signal. Returns `Some(())` for the arrivals since the previous call (one
    /// or more), or `None` if the runtime's reactor shut down and no more can come.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the signal (the poll form of [`recv`](Signal::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        loop {
            let event = match ready!(self.io.poll_read_ready(cx)) {
                Ok(event) => event,
                // The reactor is gone: no signal can be delivered any more.
                Err(_) => return Poll::Ready(None),
            };
            // Drains the self-pipe, then takes this listener's pending flag.
            if self.io.get_mut().pending().next().is_some() {
                return Poll::Ready(Some(()));
            }
            self.io.clear_readiness(event);
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
