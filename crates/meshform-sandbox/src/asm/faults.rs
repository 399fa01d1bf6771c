//! Injected faults: throttling, server errors, added latency, and meshes stuck in `initial`.
//! Failed upgrades are injected apart from these, with [`super::AsmEmulator::set_upgrade_failure`]
//! (decided when an upgrade would complete, not per request).
//!
//! **A fault is decided before the action runs**: a request that is throttled or answered with a
//! 5xx has no effect at all (a throttled `CreateServiceMesh` creates nothing), so a client may
//! retry it safely. Authentication comes first (an unsigned request is refused, never throttled),
//! as the gateway limits each authenticated user.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::errors::ApiError;

/// Fault settings, set at start ([`super::AsmOptions::faults`]) and at run time
/// ([`super::AsmEmulator::set_faults`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSettings {
    /// Fraction (0.0–1.0) of requests refused with `Throttling.User` (HTTP 429).
    pub throttle_rate: f64,
    /// Fraction (0.0–1.0) of requests answered with `ServiceUnavailable` (503) or `InternalError` (500).
    pub server_error_rate: f64,
    /// Added to every response.
    pub latency: Duration,
    /// Created meshes stay `initial` until this is cleared.
    pub stuck_initial: bool,
}

/// The calls the throttling headers advertise per window.
const THROTTLE_LIMIT: u32 = 10;
/// How long a throttled client is told to wait.
const THROTTLE_WAIT_MS: u64 = 1000;

/// Decides the fault for one request, from two uniform draws in `[0, 1)`.
pub(crate) fn decide(settings: &FaultSettings, draws: (f64, f64)) -> Option<ApiError> {
    if draws.0 < settings.throttle_rate {
        return Some(throttling_error());
    }
    if draws.1 < settings.server_error_rate {
        // Half of the server errors are 503, half 500 (reuse the draw's position in its band).
        return Some(if draws.1 < settings.server_error_rate / 2.0 {
            ApiError::service_unavailable()
        } else {
            ApiError::internal_error("injected fault")
        });
    }
    None
}

/// `Throttling.User` with the headers the real gateway sends: `x-ratelimit-user:
/// Limit:10,Remain:0,TimeLeft:<ms>,Reset:<unix seconds>`, and `x-acs-retry-after: <ms>`, which
/// current official SDKs read.
fn throttling_error() -> ApiError {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let reset = (now + Duration::from_millis(THROTTLE_WAIT_MS)).as_secs();
    ApiError::throttled()
        .with_header(
            "x-ratelimit-user",
            format!("Limit:{THROTTLE_LIMIT},Remain:0,TimeLeft:{THROTTLE_WAIT_MS},Reset:{reset}"),
        )
        .with_header("x-acs-retry-after", THROTTLE_WAIT_MS.to_string())
}

/// A uniform draw in `[0, 1)` from the operating system's randomness (via a v4 UUID).
pub(crate) fn draw() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_pick_the_fault() {
        let none = FaultSettings::default();
        assert_eq!(decide(&none, (0.0, 0.0)), None);
        let all = FaultSettings { throttle_rate: 1.0, server_error_rate: 1.0, ..none.clone() };
        let e = decide(&all, (0.99, 0.0)).map(|e| e.code);
        assert_eq!(e.as_deref(), Some("Throttling.User"));
        let errors = FaultSettings { server_error_rate: 1.0, ..none };
        assert_eq!(decide(&errors, (0.0, 0.2)).map(|e| e.status), Some(503));
        assert_eq!(decide(&errors, (0.0, 0.7)).map(|e| e.status), Some(500));
        let throttle = decide(&all, (0.0, 0.0)).map(|e| e.headers).unwrap_or_default();
        assert!(throttle[0].1.starts_with("Limit:10,Remain:0,TimeLeft:1000,Reset:"));
    }

    #[test]
    fn draws_are_in_range() {
        for _ in 0..1000 {
            let d = draw();
            assert!((0.0..1.0).contains(&d));
        }
    }
}
