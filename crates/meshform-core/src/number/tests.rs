//! Tests of [`Number`]: exact parsing, arithmetic and Terraform's printing.

use proptest::prelude::*;

use super::*;

fn n(s: &str) -> Number {
    Number::parse(s).unwrap()
}

#[test]
fn decimal_sums_are_exact() {
    assert_eq!(n("0.1").add(&n("0.2")), n("0.3"));
    assert_eq!(n("0.1").add(&n("0.2")).to_string(), "0.3");
    assert_eq!(n("1.1").mul(&n("3")).to_string(), "3.3");
    assert_eq!(n("0.3").sub(&n("0.1")).to_string(), "0.2");
}

#[test]
fn large_integers_stay_exact() {
    assert_eq!(n("9007199254740993").add(&Number::ZERO).to_string(), "9007199254740993");
    assert_eq!(n("9223372036854775807").add(&Number::from(1)).to_string(), "9223372036854775808");
    assert_eq!(n("1e100").to_string(), format!("1{}", "0".repeat(100)));
    let big = n("123456789012345678901234567890");
    assert_eq!(big.mul(&big).checked_div(&big).unwrap(), big);
    assert_eq!(Number::from(u64::MAX).as_u64(), Some(u64::MAX));
    assert_eq!(Number::from(u64::MAX).as_i64(), None);
}

#[test]
fn prints_as_terraform() {
    assert_eq!(n("3.0").to_string(), "3");
    assert_eq!(n("-0").to_string(), "0");
    assert_eq!(n("1.50").to_string(), "1.5");
    assert_eq!(n("-2.5e-3").to_string(), "-0.0025");
    assert_eq!(n("1e-7").to_string(), "0.0000001");
    assert_eq!(n("12e3").to_string(), "12000");
    assert_eq!(n("5").checked_div(&n("2")).unwrap().to_string(), "2.5");
    assert_eq!(n("1").checked_div(&n("80")).unwrap().to_string(), "0.0125");
    assert_eq!(n("3").checked_div(&n("625")).unwrap().to_string(), "0.0048");
    assert_eq!(n("1e-10000").to_string(), format!("0.{}1", "0".repeat(9999)));
    assert!(n("1").checked_div(&n("15")).unwrap().to_string().len() > 150);
    // Terraform's `1 / 3`: the shortest decimal of the 512-bit quotient.
    let third = Number::from(1).checked_div(&Number::from(3)).unwrap().to_string();
    assert!(third.starts_with("0.333333333333333333333"), "{third}");
    assert!((150..=160).contains(&third.len()), "{} digits: {third}", third.len());
    // 1/3 rounded to 512 bits is not 1/3: its last digit shows where the float lies.
    assert!(third.bytes().skip(2).take(third.len() - 3).all(|b| b == b'3'), "{third}");
    let two_thirds = Number::from(2).checked_div(&Number::from(3)).unwrap().to_string();
    assert!(two_thirds.ends_with('7') && two_thirds.starts_with("0.666666"), "{two_thirds}");
    let third = Number::from(1).checked_div(&Number::from(3)).unwrap();
    assert_eq!(third.mul(&Number::from(3)), Number::from(1));
}

#[test]
fn parse_rejects_what_is_not_a_number() {
    for bad in ["", "-", ".", "1.2.3", "1e", "e5", "0x10", " 1", "1 ", "1_000", "inf", "NaN", "--1"]
    {
        assert!(matches!(Number::parse(bad), Err(ParseNumberError::Invalid(_))), "{bad:?} parsed");
    }
    assert!(matches!(Number::parse("1e100000"), Err(ParseNumberError::OutOfRange(_))));
    assert!(matches!(
        Number::parse("1e99999999999999999999"),
        Err(ParseNumberError::OutOfRange(_))
    ));
    let msg = Number::parse("abc").unwrap_err().to_string();
    assert!(msg.contains("\"abc\" is not a number"), "{msg}");
    assert_eq!(n(".5"), n("0.5"));
    assert_eq!(n("+5."), n("5"));
    assert_eq!(n("1E+2"), n("100"));
}

#[test]
fn remainder_and_rounding_follow_terraform() {
    assert_eq!(n("-7").checked_rem(&n("3")).unwrap(), n("-1"));
    assert_eq!(n("7").checked_rem(&n("-3")).unwrap(), n("1"));
    assert_eq!(n("7.5").checked_rem(&n("2")).unwrap(), n("1.5"));
    assert_eq!(n("1").checked_rem(&Number::ZERO), None);
    assert_eq!(n("1").checked_div(&Number::ZERO), None);
    assert_eq!(n("-1.5").floor(), n("-2"));
    assert_eq!(n("-1.5").ceil(), n("-1"));
    assert_eq!(n("-1.5").trunc(), n("-1"));
    assert_eq!(n("1e30").add(&n("0.5")).floor(), n("1e30"));
    assert_eq!(Number::from(i64::MIN).neg().to_string(), "9223372036854775808");
    assert_eq!(Number::from(i64::MIN).checked_rem(&Number::from(-1)).unwrap(), Number::ZERO);
}

#[test]
fn comparisons_are_exact() {
    assert!(n("9007199254740993") > n("9007199254740992"));
    assert!(n("0.1").add(&n("0.2")) == n("0.3"));
    assert!(n("-1e40") < n("-1e39"));
    assert!(n("0.30000000000000004") > n("0.3"));
    assert_eq!(n("-2.5").signum(), -1);
    assert_eq!(n("0.0").signum(), 0);
}

#[test]
fn floats_become_their_shortest_decimal() {
    assert_eq!(Number::from_f64(0.1).unwrap(), n("0.1"));
    assert_eq!(Number::from_f64(1e100).unwrap(), n("1e100"));
    assert_eq!(Number::from_f64(2f64.powi(63)).unwrap().to_string(), "9223372036854776000");
    assert_eq!(Number::from_f64(f64::NAN), None);
    assert_eq!(Number::from_f64(f64::INFINITY), None);
    assert_eq!(n("0.1").to_f64(), 0.1);
    assert_eq!(n("9007199254740993").to_f64(), 9007199254740992.0);
    assert_eq!(n("1e400").to_f64(), f64::INFINITY);
}

#[test]
fn fixed_point_rounds_half_to_even() {
    assert_eq!(n("0.125").to_fixed(2), "0.12");
    assert_eq!(n("0.135").to_fixed(2), "0.14");
    assert_eq!(n("3.14159").to_fixed(3), "3.142");
    assert_eq!(n("-0.001").to_fixed(2), "0.00");
    assert_eq!(n("-1.5").to_fixed(0), "-2");
    assert_eq!(n("42").to_fixed(1), "42.0");
    assert_eq!(n("9007199254740993").to_fixed(1), "9007199254740993.0");
}

#[test]
fn json_writes_integers_exactly() {
    let s = |x: &Number| serde_json::to_string(x).unwrap();
    assert_eq!(s(&n("9223372036854775808")), "9223372036854775808");
    assert_eq!(s(&n("-9223372036854775808")), "-9223372036854775808");
    assert_eq!(s(&n("0.3")), "0.3");
    assert_eq!(s(&n("42")), "42");
}

proptest! {
    /// Any decimal prints back as itself (normalised) and parses back to the same number.
    #[test]
    fn text_round_trips(int in -10i64.pow(12)..10i64.pow(12), frac in 0u32..1_000_000, exp in -30i64..30) {
        let x = n(&format!("{int}.{frac:06}e{exp}"));
        prop_assert_eq!(n(&x.to_string()), x.clone());
        prop_assert_eq!(Number::from_f64(x.to_f64()).unwrap().to_f64(), x.to_f64());
    }

    /// Integer arithmetic agrees with i128.
    #[test]
    fn integer_arithmetic_matches_i128(a in any::<i64>(), b in any::<i64>()) {
        let (x, y) = (Number::from(a), Number::from(b));
        let (a, b) = (i128::from(a), i128::from(b));
        prop_assert_eq!(x.add(&y), Number::from(a + b));
        prop_assert_eq!(x.sub(&y), Number::from(a - b));
        prop_assert_eq!(x.mul(&y), Number::from(a * b));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        if b != 0 {
            prop_assert_eq!(x.checked_rem(&y).unwrap(), Number::from(a % b));
            prop_assert_eq!(x.checked_div(&y).unwrap().mul(&y), x.clone());
        }
    }
}
