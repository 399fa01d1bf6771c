//! Envoy's outlier detection for one upstream cluster of one client proxy (reference §1): every
//! sidecar ejects hosts on its own, from the results of its own requests.
//!
//! - Each result counts as an HTTP status: a failed connect or a reset as 503, a timeout as 504
//!   (the default, not-split mode). A 5xx adds to the host's consecutive-5xx counter, a 502/503/504
//!   also to its gateway counter; anything else resets both.
//! - A counter reaching its threshold is reset and the host ejected at once — if the cap allows:
//!   (ejected + 1) ÷ hosts ≤ `maxEjectionPercent` (Envoy ≥ 1.28), else `ejections_overflow`.
//! - The interval sweep returns a host whose time is up (`baseEjectionTime` × its consecutive
//!   ejections, at most `max(300s, base)`), and lowers the multiplier of a host that stayed in
//!   for an interval.

use std::collections::BTreeMap;
use std::time::Duration;

use super::policy::OutlierDetection;

/// Counters the proxy's `/stats` shows as `outlier_detection.*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutlierStats {
    pub ejections_enforced_total: u64,
    pub ejections_enforced_consecutive_5xx: u64,
    pub ejections_enforced_consecutive_gateway_failure: u64,
    pub ejections_detected_consecutive_5xx: u64,
    pub ejections_detected_consecutive_gateway_failure: u64,
    /// Ejections the cap refused.
    pub ejections_overflow: u64,
}

#[derive(Clone, Debug, Default)]
struct HostMonitor {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    ejected_at: Option<Duration>,
    /// How many base ejection times the next ejection lasts, minus one.
    backoff: u32,
    last_unejected: Option<Duration>,
}

/// The outlier state of one client proxy for one upstream cluster.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    config: OutlierDetection,
    /// When the last interval sweep ran (sweeps run every `interval` from creation).
    last_sweep: Duration,
    hosts: BTreeMap<String, HostMonitor>,
    pub stats: OutlierStats,
}

#[derive(Clone, Copy)]
enum Detected {
    Consecutive5xx,
    ConsecutiveGateway,
}

impl OutlierDetector {
    pub fn new(config: OutlierDetection, now: Duration) -> OutlierDetector {
        OutlierDetector {
            config,
            last_sweep: now,
            hosts: BTreeMap::new(),
            stats: OutlierStats::default(),
        }
    }

    pub fn config(&self) -> &OutlierDetection {
        &self.config
    }

    /// The cluster's hosts now: new ones are monitored, removed ones forgotten.
    pub fn set_hosts<'a>(&mut self, hosts: impl IntoIterator<Item = &'a str>) {
        let mut kept = BTreeMap::new();
        for h in hosts {
            let m = self.hosts.remove(h).unwrap_or_default();
            kept.insert(h.to_owned(), m);
        }
        self.hosts = kept;
    }

    pub fn is_ejected(&self, host: &str) -> bool {
        self.hosts.get(host).is_some_and(|m| m.ejected_at.is_some())
    }

    /// `outlier_detection.ejections_active`.
    pub fn ejections_active(&self) -> usize {
        self.hosts.values().filter(|m| m.ejected_at.is_some()).count()
    }

    /// Runs the interval sweeps due by `now`.
    pub fn advance(&mut self, now: Duration) {
        let interval = self.config.interval.max(Duration::from_millis(1));
        while self.last_sweep + interval <= now {
            let busy = self.hosts.values().any(|m| m.ejected_at.is_some() || m.backoff > 0);
            if !busy {
                // Nothing for a sweep to do: skip to the last one due.
                let due = (now - self.last_sweep).as_nanos() / interval.as_nanos();
                let due = u32::try_from(due).unwrap_or(u32::MAX);
                self.last_sweep += interval.saturating_mul(due);
                return;
            }
            self.last_sweep += interval;
            self.sweep(self.last_sweep);
        }
    }

    fn sweep(&mut self, t: Duration) {
        let (interval, base, max) =
            (self.config.interval, self.config.base_ejection, self.config.max_ejection());
        for m in self.hosts.values_mut() {
            match m.ejected_at {
                Some(at) => {
                    if t.saturating_sub(at) >= base.saturating_mul(m.backoff).min(max) {
                        *m = HostMonitor {
                            backoff: m.backoff,
                            last_unejected: Some(t),
                            ..HostMonitor::default()
                        };
                    }
                }
                None => {
                    if m.last_unejected.is_some_and(|u| t.saturating_sub(u) >= interval) {
                        m.backoff = m.backoff.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// Counts one result of a request to `host` (an HTTP status; 503 for a failed connect, 504
    /// for a timeout); ejects the host when a counter reaches its threshold. Returns whether
    /// this result ejected it.
    pub fn record(&mut self, host: &str, status: u16, now: Duration) -> bool {
        let (t5xx, tgw) = (self.config.consecutive_5xx, self.config.consecutive_gateway);
        let Some(m) = self.hosts.get_mut(host) else { return false };
        let mut detected = Vec::new();
        if status >= 500 {
            if matches!(status, 502..=504) {
                m.consecutive_gateway += 1;
                // Envoy detects at its default of 5 even when the check is not enforced.
                if m.consecutive_gateway == if tgw > 0 { tgw } else { 5 } {
                    m.consecutive_gateway = 0;
                    detected.push((Detected::ConsecutiveGateway, tgw > 0));
                }
            } else {
                m.consecutive_gateway = 0;
            }
            m.consecutive_5xx += 1;
            if t5xx > 0 && m.consecutive_5xx == t5xx {
                m.consecutive_5xx = 0;
                detected.push((Detected::Consecutive5xx, true));
            }
        } else {
            m.consecutive_5xx = 0;
            m.consecutive_gateway = 0;
        }
        detected.into_iter().any(|(kind, enforced)| self.detected(host, kind, enforced, now))
    }

    fn detected(&mut self, host: &str, kind: Detected, enforced: bool, now: Duration) -> bool {
        match kind {
            Detected::Consecutive5xx => self.stats.ejections_detected_consecutive_5xx += 1,
            Detected::ConsecutiveGateway => {
                self.stats.ejections_detected_consecutive_gateway_failure += 1
            }
        }
        if !enforced || self.is_ejected(host) {
            return false;
        }
        let total = self.hosts.len().max(1) as f64;
        let share = 100.0 * (self.ejections_active() + 1) as f64 / total;
        if share > f64::from(self.config.max_ejection_percent) {
            self.stats.ejections_overflow += 1;
            return false;
        }
        let (base, max) = (self.config.base_ejection, self.config.max_ejection());
        let Some(m) = self.hosts.get_mut(host) else { return false };
        m.ejected_at = Some(now);
        if base.saturating_mul(m.backoff) < max.saturating_add(base) {
            m.backoff += 1;
        }
        self.stats.ejections_enforced_total += 1;
        match kind {
            Detected::Consecutive5xx => self.stats.ejections_enforced_consecutive_5xx += 1,
            Detected::ConsecutiveGateway => {
                self.stats.ejections_enforced_consecutive_gateway_failure += 1
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(c5xx: u32, max_percent: u32) -> OutlierDetection {
        OutlierDetection {
            consecutive_5xx: c5xx,
            consecutive_gateway: 0,
            interval: Duration::from_secs(1),
            base_ejection: Duration::from_secs(30),
            max_ejection_percent: max_percent,
            min_health_percent: 0,
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_huge_ejection_time_ejects_without_overflowing() {
        let mut c = config(1, 100);
        c.base_ejection = Duration::from_secs(u64::MAX / 2);
        let mut d = OutlierDetector::new(c, S(0));
        d.set_hosts(["a", "b"]);
        assert!(d.record("a", 503, S(0)), "ejected, not a panic");
        assert!(d.is_ejected("a"));
    }

    #[test]
    fn consecutive_errors_eject_and_the_sweep_brings_the_host_back() {
        let mut d = OutlierDetector::new(config(3, 100), S(0));
        d.set_hosts(["a", "b"]);
        assert!(!d.record("a", 503, S(0)));
        assert!(!d.record("a", 200, S(0)), "a success resets the counter");
        assert!(!d.record("a", 503, S(0)) && !d.record("a", 500, S(0)));
        assert!(d.record("a", 503, S(0)), "the third consecutive 5xx ejects");
        assert!(d.is_ejected("a") && !d.is_ejected("b"));
        d.advance(S(29));
        assert!(d.is_ejected("a"), "30s base ejection time");
        d.advance(S(30));
        assert!(!d.is_ejected("a"), "back at the sweep when the time is up");
        // Ejected again at once: twice the base time now.
        for _ in 0..3 {
            d.record("a", 503, S(30));
        }
        d.advance(S(89));
        assert!(d.is_ejected("a"), "60s the second time");
        d.advance(S(90));
        assert!(!d.is_ejected("a"));
        assert_eq!(d.stats.ejections_enforced_total, 2);
    }

    #[test]
    fn the_cap_keeps_small_clusters_from_ejecting() {
        let mut d = OutlierDetector::new(config(1, 10), S(0));
        d.set_hosts((0..9).map(|i| ["h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"][i]));
        assert!(!d.record("h0", 503, S(0)), "1 of 9 hosts is more than 10%");
        assert_eq!(d.stats.ejections_overflow, 1);
        let names: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
        d.set_hosts(names.iter().map(String::as_str));
        assert!(d.record("h0", 503, S(0)), "1 of 10 is 10%");
        assert!(!d.record("h1", 503, S(0)), "2 of 10 is not");
        assert_eq!(d.ejections_active(), 1);
    }

    #[test]
    fn the_multiplier_falls_after_an_interval_in_service() {
        let mut d = OutlierDetector::new(config(1, 100), S(0));
        d.set_hosts(["a"]);
        d.record("a", 503, S(0));
        d.advance(S(30));
        assert!(!d.is_ejected("a"));
        d.advance(S(32));
        d.record("a", 503, S(32));
        d.advance(S(61));
        assert!(d.is_ejected("a"));
        d.advance(S(62));
        assert!(!d.is_ejected("a"), "30s again, not 60s: the multiplier fell while it served");
    }
}
