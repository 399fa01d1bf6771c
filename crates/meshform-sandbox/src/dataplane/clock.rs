//! The data plane's clock for what Envoy times by its own clock: outlier detection's interval
//! sweeps and ejection times. It runs with real time until a test pauses it; then it moves only
//! when advanced, so a test can step past a `baseEjectionTime` of 30 s without waiting for it.
//! (Timeouts and retry backoff are real time: they shape how long a request takes, not its
//! outcome.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshform_core::sync::lock;

/// Time since the data plane started; cheap to clone (clones share the time).
#[derive(Clone, Debug)]
pub struct Clock {
    start: Instant,
    /// `Some(now)` while paused.
    paused: Arc<Mutex<Option<Duration>>>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { start: Instant::now(), paused: Arc::new(Mutex::new(None)) }
    }
}

impl Clock {
    /// The time now.
    pub fn now(&self) -> Duration {
        lock(&self.paused).unwrap_or_else(|| self.start.elapsed())
    }

    /// Stops the clock where it is: from now on it moves only by [`Clock::advance`].
    pub fn pause(&self) {
        let mut paused = lock(&self.paused);
        if paused.is_none() {
            *paused = Some(self.start.elapsed());
        }
    }

    /// Moves a paused clock forward (pausing it first if it runs).
    pub fn advance(&self, by: Duration) {
        let mut paused = lock(&self.paused);
        let now = paused.unwrap_or_else(|| self.start.elapsed());
        *paused = Some(now + by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_clock_moves_only_when_advanced() {
        let clock = Clock::default();
        clock.pause();
        let t = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), t);
        clock.clone().advance(Duration::from_secs(30));
        assert_eq!(clock.now(), t + Duration::from_secs(30));
    }
}
