//! [`wait_until`]: the one polling loop for "wait until the remote object reaches a state" — a poll
//! interval that grows to a ceiling, a deadline, and progress lines only when the observed status
//! changes. Providers with a push channel (Kubernetes watches) use it as their fallback.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{ErrorKind, Progress, ProviderError};

/// What one poll saw.
#[derive(Debug)]
pub enum Poll<T> {
    /// The wait is over.
    Ready(T),
    /// Not yet; the status to report (shown when it differs from the last one).
    Pending(String),
}

/// How a wait polls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WaitPolicy {
    /// The first interval between polls.
    pub first: Duration,
    /// Each interval is the previous one times this factor…
    pub growth: f64,
    /// …up to this ceiling.
    pub ceiling: Duration,
    /// How long to wait in all.
    pub timeout: Duration,
}

impl WaitPolicy {
    /// Polls every `every`, without growth, for up to `timeout`.
    pub fn every(every: Duration, timeout: Duration) -> WaitPolicy {
        WaitPolicy { first: every, growth: 1.0, ceiling: every, timeout }
    }

    /// Polls from `first`, growing by half each time, up to `ceiling`, for up to `timeout`.
    pub fn backing_off(first: Duration, ceiling: Duration, timeout: Duration) -> WaitPolicy {
        WaitPolicy { first, growth: 1.5, ceiling, timeout }
    }
}

/// Polls `check` until it is ready, fails, or `policy.timeout` passes; then returns a
/// [`ErrorKind::Timeout`] error whose message is `timed_out(last status)`.
pub async fn wait_until<T, Fut>(
    policy: WaitPolicy,
    progress: &dyn Progress,
    mut check: impl FnMut() -> Fut,
    timed_out: impl FnOnce(&str) -> String,
) -> Result<T, ProviderError>
where
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let start = Instant::now();
    let mut interval = policy.first;
    let mut last: Option<String> = None;
    loop {
        // One poll may itself retry for long (a remote call's retry budget): it gets what is left of
        // the timeout (at least a second, so that a wait with nothing left still looks once).
        let left = policy.timeout.saturating_sub(start.elapsed()).max(Duration::from_secs(1));
        let polled = match tokio::time::timeout(left, check()).await {
            Ok(polled) => polled?,
            Err(_) => return Err(expired(timed_out(last.as_deref().unwrap_or_default()))),
        };
        match polled {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(status) => {
                if last.as_deref() != Some(status.as_str()) {
                    progress.status(&status);
                    last = Some(status);
                }
            }
        }
        let left = policy.timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(expired(timed_out(last.as_deref().unwrap_or_default())));
        }
        tokio::time::sleep(interval.min(left)).await;
        interval = interval.mul_f64(policy.growth).min(policy.ceiling);
    }
}

fn expired(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::Timeout, "Timeout", message)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);
    impl Progress for Lines {
        fn status(&self, message: &str) {
            self.0.lock().unwrap().push(message.to_owned());
        }
    }

    #[tokio::test]
    async fn reports_each_new_status_once_and_returns_when_ready() {
        let lines = Lines::default();
        let n = Cell::new(0);
        let v = wait_until(
            WaitPolicy::every(Duration::from_millis(1), Duration::from_secs(5)),
            &lines,
            || {
                n.set(n.get() + 1);
                let n = n.get();
                async move {
                    Ok(match n {
                        1 | 2 => Poll::Pending("state: creating".into()),
                        3 => Poll::Pending("state: starting".into()),
                        _ => Poll::Ready(n),
                    })
                }
            },
            |_| unreachable!("ready before the deadline"),
        )
        .await
        .unwrap();
        assert_eq!(v, 4);
        assert_eq!(*lines.0.lock().unwrap(), ["state: creating", "state: starting"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_that_never_answers_ends_at_the_timeout() {
        let e = wait_until::<(), _>(
            WaitPolicy::every(Duration::from_millis(10), Duration::from_secs(30)),
            &crate::NoProgress,
            std::future::pending,
            |last| format!("still waiting (last {last:?})"),
        )
        .await
        .unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Timeout, "still waiting (last \"\")"));
    }

    #[tokio::test]
    async fn times_out_with_the_last_status_and_passes_errors_through() {
        let e = wait_until::<(), _>(
            WaitPolicy::backing_off(
                Duration::from_millis(1),
                Duration::from_millis(4),
                Duration::from_millis(20),
            ),
            &crate::NoProgress,
            || async { Ok(Poll::Pending("state: upgrading".into())) },
            |last| format!("not running (last {last})"),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Timeout, "not running (last state: upgrading)")
        );
        assert!(e.retryable());
        let e = wait_until::<(), _>(
            WaitPolicy::every(Duration::from_millis(1), Duration::from_secs(5)),
            &crate::NoProgress,
            || async { Err(ProviderError::new(ErrorKind::Failed, "MeshFailed", "failed")) },
            |_| String::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Failed);
    }
}
