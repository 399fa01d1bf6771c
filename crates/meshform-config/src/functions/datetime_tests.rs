//! Tests of the date and time functions, with Terraform's documented examples.

use super::super::test_support::*;
use super::{civil_from_days, days_from_civil};

#[test]
fn formatdate_documented_examples() {
    let cases = [
        ("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z", "02 Jan 2018 23:12 UTC"),
        ("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2018-01-02T23:12:01Z", "Tuesday, 02-Jan-18 23:12:01 UTC"),
        (
            "EEE, DD MMM YYYY hh:mm:ss ZZZ",
            "2018-01-02T23:12:01-08:00",
            "Tue, 02 Jan 2018 23:12:01 -0800",
        ),
        ("MMM DD, YYYY", "2018-01-02T23:12:01Z", "Jan 02, 2018"),
        ("HH:mmaa", "2018-01-02T23:12:01Z", "11:12pm"),
        ("h'h'mm", "2018-01-02T23:12:01-08:00", "23h12"),
        ("H:m:s AA", "2018-01-02T00:05:09Z", "12:5:9 AM"),
        ("D/M/YY", "2009-11-07T00:00:00Z", "7/11/09"),
        ("MMMM EEEE", "2024-02-29T12:00:00+05:30", "February Thursday"),
        ("Z ZZZZ ZZZZZ", "2018-01-02T23:12:01+05:30", "+05:30 +0530 +05:30"),
        ("Z ZZZ ZZZZ ZZZZZ", "2018-01-02T23:12:01Z", "Z UTC +0000 +00:00"),
        ("'o''clock' '' YYYY", "2018-01-02T23:12:01Z", "o'clock ' 2018"),
        // go-cty's own test vectors, at 2006-01-02T15:04:05Z.
        ("", "2006-01-02T15:04:05Z", ""),
        ("EEE, MMM D ''YY", "2006-01-02T15:04:05Z", "Mon, Jan 2 '06"),
        ("H 'o''clock' AA", "2006-01-02T15:04:05Z", "3 o'clock PM"),
        ("H 'o''clock'", "2006-01-02T15:04:05Z", "3 o'clock"),
        ("hh:mm:ssZZZZ", "2006-01-02T15:04:05Z", "15:04:05+0000"),
        ("hh:mm:ssZZZZZ", "2006-01-02T15:04:05Z", "15:04:05+00:00"),
        ("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2006-01-02T15:04:05Z", "Monday, 02-Jan-06 15:04:05 UTC"),
        ("aa", "2006-01-02T15:04:05Z", "pm"),
        ("YYYY-MM-DD'T'hh:mm:ssZ", "2018-01-02T23:12:01.123456Z", "2018-01-02T23:12:01Z"),
    ];
    for (format, ts, want) in cases {
        assert_eq!(ok("formatdate", &[s(format), s(ts)]), s(want), "{format}");
    }
}

#[test]
fn formatdate_errors() {
    let ts = s("2018-01-02T23:12:01Z");
    let cases = [
        ("YYY", "invalid date format verb \"YYY\": year must either be \"YY\" or \"YYYY\""),
        (
            "MMMMM",
            "invalid date format verb \"MMMMM\": month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"",
        ),
        ("DDD", "invalid date format verb \"DDD\": day of month must either be \"D\" or \"DD\""),
        ("EE", "invalid date format verb \"EE\": day of week must either be \"EEE\" or \"EEEE\""),
        ("hhh", "invalid date format verb \"hhh\": 24-hour must either be \"h\" or \"hh\""),
        ("a", "invalid date format verb \"a\": must be \"aa\""),
        ("ZZ", "invalid date format verb \"ZZ\": timezone must be Z, ZZZZ, or ZZZZZ"),
        ("x", "invalid date format verb \"x\""),
        ("'abc", "unterminated literal '"),
        ("'", "unterminated literal '"),
        ("Y", "invalid date format verb \"Y\": year must either be \"YY\" or \"YYYY\""),
        ("A", "invalid date format verb \"A\": must be \"AA\""),
    ];
    for (format, want) in cases {
        assert_eq!(err("formatdate", &[s(format), ts.clone()]), format!("formatdate: {want}"));
    }
    assert_eq!(
        err("formatdate", &[s("YYYY"), s("2018-01-02")]),
        "formatdate: not a valid RFC3339 timestamp: missing required time introducer 'T'"
    );
}

#[test]
fn timestamps_are_parsed_as_go_parses_rfc3339() {
    let bad = [
        // go-cty's own test vectors first.
        ("", "end of string before year"),
        ("2017-01-02", "missing required time introducer 'T'"),
        ("2017-12-02t00:00:00Z", "missing required time introducer 'T'"),
        ("2017:01:02", "found \":01:02\" where \"-\" is expected"),
        ("2017", "end of string where \"-\" is expected"),
        ("2017-01-02T", "end of string before hour"),
        ("2017-01-02T00", "end of string where \":\" is expected"),
        ("2017-01-02T00:00:00", "end of string before UTC offset"),
        ("2017-01-02T26:00:00Z", "cannot use \":00:00Z\" as hour"),
        ("2017-13-02T00:00:00Z", "cannot use \"-02T00:00:00Z\" as month"),
        ("2017-02-31T00:00:00Z", "day out of range"),
        ("\"2017-12-02T00:00:00Z\"", "cannot use \"\\\"2017-12-02T00:00:00Z\\\"\" as year"),
        ("2-12-02T00:00:00Z", "cannot use \"-02T00:00:00Z\" as year"),
        ("bloop", "cannot use \"bloop\" as year"),
        ("2017-11-22 00:00:00Z", "missing required time introducer 'T'"),
        ("2017/11/22T00:00:00Z", "found \"/11/22T00:00:00Z\" where \"-\" is expected"),
        ("2017-11", "end of string where \"-\" is expected"),
        ("2017-1-22T00:00:00Z", "cannot use \"1-22T00:00:00Z\" as month"),
        ("2017-13-22T00:00:00Z", "cannot use \"-22T00:00:00Z\" as month"),
        ("2017-02-29T00:00:00Z", "day out of range"),
        ("2017-11-22T24:00:00Z", "cannot use \":00:00Z\" as hour"),
        ("2017-11-22T00:60:00Z", "cannot use \":00Z\" as minute"),
        ("2017-11-22T00:00", "end of string where \":\" is expected"),
        ("2017-11-22T00:00:00", "end of string before UTC offset"),
        ("2017-11-22T00:00:00+0100", "cannot use \"+0100\" as UTC offset"),
        ("2017-11-22T00:00:00Zjunk", "cannot use \"junk\" as timestamp segment"),
    ];
    for (ts, want) in bad {
        assert_eq!(
            err("timecmp", &[s(ts), s("2017-11-22T00:00:00Z")]),
            format!("timecmp: not a valid RFC3339 timestamp: {want}"),
            "{ts}"
        );
    }
    // A one-digit hour, a fraction and a leap day are accepted, as by Go.
    assert_eq!(ok("timeadd", &[s("2017-11-22T1:00:00Z"), s("0s")]), s("2017-11-22T01:00:00Z"));
    // Before year 0, as Go writes it (`%02d` of a negative remainder keeps its sign).
    let early = ok("timeadd", &[s("0000-01-01T00:00:00Z"), s("-8760h")]);
    assert_eq!(early, s("-0001-01-01T00:00:00Z"));
    assert_eq!(ok("formatdate", &[s("YY YYYY"), s("0000-03-01T00:00:00Z")]), s("00 0000"));
    assert_eq!(
        ok("timeadd", &[s("2024-02-29T00:00:00.5Z"), s("500ms")]),
        s("2024-02-29T00:00:01Z")
    );
}

#[test]
fn timeadd_like_terraform() {
    let cases = [
        ("2017-11-22T00:00:00Z", "10m", "2017-11-22T00:10:00Z"),
        ("2017-11-22T00:00:00Z", "1s", "2017-11-22T00:00:01Z"),
        ("2017-11-22T00:00:00Z", "10m1s", "2017-11-22T00:10:01Z"),
        ("2017-11-22T00:00:00Z", "-1h", "2017-11-21T23:00:00Z"),
        ("2017-11-22T00:00:00Z", "1.5h", "2017-11-22T01:30:00Z"),
        ("2017-11-22T00:00:00+02:00", "24h", "2017-11-23T00:00:00+02:00"),
        ("2017-11-22T00:00:00-00:00", "0", "2017-11-22T00:00:00Z"),
        ("2016-12-31T23:59:59Z", "1s", "2017-01-01T00:00:00Z"),
        ("1969-12-31T23:59:59Z", "2s", "1970-01-01T00:00:01Z"),
        ("2017-11-22T00:00:00Z", "8760h", "2018-11-22T00:00:00Z"),
        ("2017-11-22T00:00:00Z", "1µs1us1ns", "2017-11-22T00:00:00Z"),
    ];
    for (ts, d, want) in cases {
        assert_eq!(ok("timeadd", &[s(ts), s(d)]), s(want), "{ts} + {d}");
    }
    let ts = s("2017-11-22T00:00:00Z");
    let bad = [
        ("1d", "time: unknown unit \"d\" in duration \"1d\""),
        ("10", "time: missing unit in duration \"10\""),
        ("", "time: invalid duration \"\""),
        ("h", "time: invalid duration \"h\""),
        (".h", "time: invalid duration \".h\""),
        ("3000000h", "time: invalid duration \"3000000h\""),
    ];
    for (d, want) in bad {
        assert_eq!(err("timeadd", &[ts.clone(), s(d)]), format!("timeadd: {want}"), "{d}");
    }
    assert_eq!(
        err("timeadd", &[s("2017-11-22"), s("-1h")]),
        "timeadd: not a valid RFC3339 timestamp: missing required time introducer 'T'"
    );
}

#[test]
fn timecmp_like_terraform() {
    let cases = [
        ("2017-11-22T00:00:00Z", "2017-11-22T00:00:00Z", 0.0),
        ("2017-11-22T00:00:00Z", "2017-11-22T01:00:00Z", -1.0),
        ("2017-11-22T01:00:00Z", "2017-11-22T00:00:00Z", 1.0),
        ("2017-11-22T01:00:00Z", "2017-11-22T00:00:00-01:00", 0.0),
        ("2017-11-22T00:00:00Z", "2017-11-22T01:00:00+01:00", 0.0),
        ("2017-11-22T00:00:01Z", "2017-11-22T01:00:00+01:00", 1.0),
        ("2017-11-22T01:00:00+01:00", "2017-11-22T01:00:00-01:00", -1.0),
        ("2017-11-22T00:00:00.1Z", "2017-11-22T00:00:00Z", 1.0),
    ];
    for (x, y, want) in cases {
        assert_eq!(ok("timecmp", &[s(x), s(y)]), n(want), "{x} vs {y}");
    }
}

#[test]
fn clock_functions_are_refused_with_a_way_out() {
    for name in ["timestamp", "plantimestamp"] {
        let e = err(name, &[]);
        assert!(e.starts_with(&format!("{name}: not supported: it reads the clock")), "{e}");
        assert!(e.contains("--var now="), "{e}");
    }
}

#[test]
fn calendar_arithmetic_round_trips() {
    for days in (-800_000..800_000).step_by(997) {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
}

mod properties {
    use super::super::super::test_support::*;
    use proptest::prelude::*;

    fn timestamp() -> impl Strategy<Value = String> {
        (0i64..=9000, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60, -1439i32..=1439).prop_map(
            |(y, mo, d, h, mi, s, off)| {
                let zone = if off == 0 {
                    "Z".to_string()
                } else {
                    let sign = if off < 0 { '-' } else { '+' };
                    format!("{sign}{:02}:{:02}", off.abs() / 60, off.abs() % 60)
                };
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}")
            },
        )
    }

    proptest! {
        /// formatdate with the RFC 3339 layout gives the timestamp back; moving it forth and back
        /// by the same duration lands on the same text (years stay below 10000, which Go cannot
        /// read back); timecmp orders by the move.
        #[test]
        fn formatting_and_arithmetic_agree(ts in timestamp(), secs in 0i64..9_000_000_000) {
            prop_assert_eq!(
                ok("formatdate", &[s("YYYY-MM-DD'T'hh:mm:ssZ"), s(&ts)]),
                s(&ts)
            );
            let later = ok("timeadd", &[s(&ts), s(&format!("{secs}s"))]);
            let back = ok("timeadd", &[later.clone(), s(&format!("-{secs}s"))]);
            prop_assert_eq!(back, s(&ts));
            let order = if secs == 0 { 0.0 } else { 1.0 };
            prop_assert_eq!(ok("timecmp", &[later, s(&ts)]), n(order));
        }
    }
}
