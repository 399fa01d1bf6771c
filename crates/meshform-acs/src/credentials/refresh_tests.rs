//! When temporary credentials are fetched again: 3 minutes before they expire, or at half their
//! lifetime when they live less than 6 minutes; long-lived keys never.

use super::*;

fn expiring(after: time::Duration, fetched: OffsetDateTime) -> Credentials {
    Credentials {
        expiration: Some(fetched + after),
        ..Credentials::access_key("STS.x", "s", Some("t".into()), "test")
    }
}

#[test]
fn temporary_credentials_are_fetched_again_before_they_expire() {
    let at = OffsetDateTime::now_utc();
    let minutes = time::Duration::minutes;
    let hour = expiring(minutes(60), at);
    assert!(!needs_refresh(&hour, at, at + minutes(56)));
    assert!(needs_refresh(&hour, at, at + minutes(57)), "3 minutes before");
    assert!(needs_refresh(&hour, at, at + minutes(61)), "and after, of course");
    let short = expiring(time::Duration::seconds(4), at);
    assert!(!needs_refresh(&short, at, at + time::Duration::milliseconds(1900)));
    assert!(needs_refresh(&short, at, at + time::Duration::seconds(2)), "at half their lifetime");
    let key = Credentials::access_key("LTAI", "s", None, "test");
    assert!(!needs_refresh(&key, at, at + minutes(100_000)), "an AccessKey never");
}
