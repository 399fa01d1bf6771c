//! The one retry layer: a [`RetryPolicy`] (an attempt budget, exponential backoff with random jitter,
//! server hints such as `Retry-After` or `TimeLeft` honoured) applied once per remote call by
//! [`RetryPolicy::run`]. Transports classify their errors into a [`Verdict`]; nothing else loops.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{ErrorKind, ProviderError};

/// How a failed attempt may be followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Give up: the error is final (or repeating the call is not safe).
    Stop,
    /// A transient failure (throttling, 5xx, transport): try again, counted against the attempt budget.
    Again { after: Option<Duration> },
    /// The object is busy with another change: try again until the policy's patience runs out, not
    /// counted against the attempt budget.
    Later { after: Option<Duration> },
}

impl Verdict {
    /// The usual verdict for a provider error: transient kinds are retried, `Busy` waits.
    pub fn of(e: &ProviderError) -> Verdict {
        match e.kind {
            ErrorKind::Busy => Verdict::Later { after: e.retry_after },
            k if k.is_transient() => Verdict::Again { after: e.retry_after },
            _ => Verdict::Stop,
        }
    }
}

/// One retry decision reported to the caller (for progress lines and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryNotice {
    /// 1 for the first retry.
    pub retry: u32,
    pub delay: Duration,
}

/// How often, and how patiently, one call is repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt for [`Verdict::Again`] failures.
    pub max_retries: u32,
    /// The first delay; it doubles with each retry.
    pub base: Duration,
    /// The longest computed delay.
    pub cap: Duration,
    /// The longest wait a server hint may ask for.
    pub max_hint: Duration,
    /// How long [`Verdict::Later`] failures are retried for, from the first attempt (`None`: never).
    pub patience: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 8,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(20),
            max_hint: Duration::from_secs(60),
            patience: None,
        }
    }
}

impl RetryPolicy {
    /// A policy that tries once.
    pub fn once() -> RetryPolicy {
        RetryPolicy { max_retries: 0, patience: None, ..RetryPolicy::default() }
    }

    pub fn with_max_retries(self, max_retries: u32) -> RetryPolicy {
        RetryPolicy { max_retries, ..self }
    }

    /// Busy objects are waited for up to `patience` from the first attempt.
    pub fn with_patience(self, patience: Duration) -> RetryPolicy {
        RetryPolicy { patience: Some(patience), ..self }
    }

    /// The delay before retry number `retry` (0-based): "equal jitter" — half the exponential delay
    /// plus a uniformly random part of the other half — and never less than the server's hint (itself
    /// capped at `max_hint`).
    pub fn delay(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let exp = self.base.saturating_mul(1u32 << retry.min(16)).min(self.cap);
        let computed = exp / 2 + exp.mul_f64(fastrand::f64() / 2.0);
        match hint {
            Some(h) if h > computed => h.min(self.max_hint),
            _ => computed,
        }
    }

    /// Runs `attempt` until it succeeds, `classify` says stop, or the budget is spent; returns the last
    /// error then. `notice` hears of every retry before its delay.
    pub async fn run<T, E, Fut>(
        &self,
        mut attempt: impl FnMut() -> Fut,
        classify: impl Fn(&E) -> Verdict,
        mut notice: impl FnMut(&E, RetryNotice),
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let start = Instant::now();
        let (mut again, mut later) = (0u32, 0u32);
        loop {
            let e = match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let delay = match classify(&e) {
                Verdict::Again { after } if again < self.max_retries => {
                    again += 1;
                    self.delay(again - 1, after)
                }
                Verdict::Later { after } => match self.patience {
                    Some(p) if start.elapsed() < p => {
                        later += 1;
                        self.delay((later - 1).min(4), after).min(p.saturating_sub(start.elapsed()))
                    }
                    _ => return Err(e),
                },
                _ => return Err(e),
            };
            notice(&e, RetryNotice { retry: again + later, delay });
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
            max_hint: Duration::from_millis(5),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn delays_grow_are_jittered_capped_and_honour_hints() {
        let p = RetryPolicy::default();
        for _ in 0..200 {
            let d0 = p.delay(0, None);
            assert!(d0 >= Duration::from_millis(250) && d0 <= Duration::from_millis(500), "{d0:?}");
            let d5 = p.delay(5, None);
            assert!(d5 >= Duration::from_secs(8) && d5 <= Duration::from_secs(16), "{d5:?}");
            assert!(p.delay(30, None) <= Duration::from_secs(20));
        }
        let distinct: std::collections::BTreeSet<_> = (0..50).map(|_| p.delay(3, None)).collect();
        assert!(distinct.len() > 10, "jitter is random, not a handful of values: {distinct:?}");
        assert_eq!(p.delay(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(p.delay(0, Some(Duration::from_secs(600))), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn transient_failures_use_the_attempt_budget_once() {
        let calls = Cell::new(0);
        let notices = Cell::new(0);
        let r: Result<(), &str> = fast()
            .with_max_retries(3)
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async { Err("503") }
                },
                |_| Verdict::Again { after: None },
                |_, _| notices.set(notices.get() + 1),
            )
            .await;
        assert_eq!(r, Err("503"));
        assert_eq!(calls.get(), 4, "one attempt plus three retries");
        assert_eq!(notices.get(), 3);
    }

    #[tokio::test]
    async fn final_errors_are_not_retried_and_success_returns() {
        let calls = Cell::new(0);
        let r: Result<u8, &str> = fast()
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async { Err("InvalidParameter") }
                },
                |_| Verdict::Stop,
                |_, _| {},
            )
            .await;
        assert_eq!((r, calls.get()), (Err("InvalidParameter"), 1));
        let calls = Cell::new(0);
        let r: Result<u8, &str> = fast()
            .run(
                || {
                    calls.set(calls.get() + 1);
                    let n = calls.get();
                    async move {
                        if n < 3 {
                            Err("429")
                        } else {
                            Ok(7)
                        }
                    }
                },
                |_| Verdict::Again { after: None },
                |_, _| {},
            )
            .await;
        assert_eq!((r, calls.get()), (Ok(7), 3));
    }

    #[tokio::test]
    async fn busy_objects_are_waited_for_within_patience_only() {
        let calls = Cell::new(0);
        let r: Result<(), &str> = fast()
            .with_max_retries(0)
            .with_patience(Duration::from_millis(30))
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async { Err("busy") }
                },
                |_| Verdict::Later { after: None },
                |_, _| {},
            )
            .await;
        assert_eq!(r, Err("busy"));
        assert!(calls.get() > 3, "busy retries do not use the attempt budget: {}", calls.get());
        let calls = Cell::new(0);
        let _: Result<(), &str> = fast()
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async { Err("busy") }
                },
                |_| Verdict::Later { after: None },
                |_, _| {},
            )
            .await;
        assert_eq!(calls.get(), 1, "no patience: a busy object is an error at once");
    }
}
