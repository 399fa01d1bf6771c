//! SIGINT and SIGTERM as Terraform takes them: both feed one shutdown channel. The first stops
//! scheduling — operations in flight finish and are recorded — and the run ends with exit status 1;
//! the second exits at once (state is saved after every operation, so nothing recorded is lost).

use tokio::sync::watch;

use crate::output::Output;

/// Listens for shutdown signals while an apply runs: `cancel` receives `true` at the first; the second
/// exits the process. Returns the listening task (abort it when the apply is over).
pub fn on_shutdown(cancel: watch::Sender<bool>, quiet: bool) -> tokio::task::JoinHandle<()> {
    // Listening starts here, before the apply: a signal that comes before the task first runs is
    // caught too.
    let listening = Signals::listen();
    tokio::spawn(async move {
        let mut signals = match listening {
            Ok(s) => s,
            Err(e) => {
                Output.eline(format_args!("warning: cannot listen for interrupts: {e}"));
                return;
            }
        };
        let first = signals.next().await;
        if !quiet {
            Output.eline(format_args!(
                "\n{first} received. Waiting for the operations in flight to finish, then saving state...\nSend it again (Ctrl-C) to exit immediately (state is saved after every operation)."
            ));
        }
        let _ = cancel.send(true);
        signals.next().await;
        Output.eline("\nTwo interrupts received. Exiting immediately.");
        std::process::exit(1);
    })
}

/// The shutdown signals of this platform.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn listen() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn listen() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    /// Waits for the next signal; says which one.
    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Interrupt",
            _ = self.terminate.recv() => "Termination signal (SIGTERM)",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Interrupt"
    }
}
