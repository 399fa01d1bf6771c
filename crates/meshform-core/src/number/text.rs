//! The decimal text of a [`Number`]: as Terraform prints numbers (Go's `big.Float.Text('f', -1)`: plain
//! digits, no exponent, no trailing zeros), plus fixed-point and scientific renderings for `format`.
//!
//! A fraction with a finite decimal prints exactly. One without (`1 / 3`) prints as Terraform prints the
//! same quotient held in 512 bits: the shortest decimal that reads back as that 512-bit value.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, Zero};

use super::{pow10, Number, Repr};

/// Terraform's number precision, in bits.
const PRECISION_BITS: u64 = 512;

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Small(i) => write!(f, "{i}"),
            Repr::Big(fr) if fr.den.is_one() => write!(f, "{}", fr.num),
            Repr::Big(fr) => {
                let sign = if fr.num.is_negative() { "-" } else { "" };
                let num = fr.num.abs();
                match decimal_scale(&fr.den) {
                    Some(k) => {
                        let digits = num * (pow10(k) / &fr.den);
                        write!(f, "{sign}{}", plain(&digits, -i64::from(k)))
                    }
                    None => write!(f, "{sign}{}", shortest_in_512_bits(&num, &fr.den)),
                }
            }
        }
    }
}

impl Number {
    /// The number with exactly `precision` digits after the point, rounded half to even (`%.2f`).
    pub fn to_fixed(&self, precision: usize) -> String {
        let (num, den) = self.parts();
        let scaled = Number::round_half_even(&(num.abs() * pow10(precision as u32)), &den);
        let sign = if num.is_negative() && !scaled.is_zero() { "-" } else { "" };
        let digits = format!("{scaled:0>width$}", width = precision + 1);
        let (int, frac) = digits.split_at(digits.len() - precision);
        if precision == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }

    /// `digits` significant digits as `<integer>e<exponent>` (`12345e-4`), rounded half to even; `0` for
    /// zero. Read by Rust's float parser.
    pub(super) fn to_scientific(&self, digits: usize) -> String {
        let (num, den) = self.parts();
        if num.is_zero() {
            return "0".into();
        }
        let sign = if num.is_negative() { "-" } else { "" };
        let num = num.abs();
        let k = decimal_exponent(&num, &den) - digits as i64 + 1;
        let c = scaled_round(&num, &den, k);
        format!("{sign}{c}e{k}")
    }
}

/// The `k` with `den` dividing `10^k`, when there is one (the fraction has a finite decimal): `den` is
/// `2^a × 5^b`, and `k` is the larger exponent. Checked with one power, not digit by digit, so a
/// `1e-10000` prints at once.
fn decimal_scale(den: &BigInt) -> Option<u32> {
    let twos = den.trailing_zeros().unwrap_or(0);
    let odd: BigInt = den >> twos;
    let twos = u32::try_from(twos).ok()?;
    if odd.is_one() {
        return Some(twos);
    }
    // log5(odd), from its bit length; a power of five is within one of the estimate.
    let estimate = ((odd.bits() - 1) as f64 / 5f64.log2()) as u32;
    (estimate.saturating_sub(1)..=estimate + 1)
        .find(|&k| num_traits::pow(BigInt::from(5), k as usize) == odd)
        .map(|fives| twos.max(fives))
}

/// `digits × 10^exp` as plain decimal text without trailing zeros after the point.
fn plain(digits: &BigInt, exp: i64) -> String {
    let s = digits.to_string();
    if exp >= 0 {
        return format!("{s}{}", "0".repeat(exp as usize));
    }
    let point = (-exp) as usize;
    let padded = format!("{s:0>width$}", width = point + 1);
    let (int, frac) = padded.split_at(padded.len() - point);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

/// `floor(log10(num / den))` for a positive fraction.
fn decimal_exponent(num: &BigInt, den: &BigInt) -> i64 {
    let bits = num.bits() as i64 - den.bits() as i64;
    let mut p = (bits as f64 * std::f64::consts::LOG10_2).floor() as i64;
    // 10^p <= num/den < 10^(p+1); the estimate is off by at most one or two.
    while cmp_pow10(num, den, p) == Ordering::Less {
        p -= 1;
    }
    while cmp_pow10(num, den, p + 1) != Ordering::Less {
        p += 1;
    }
    p
}

/// `num/den` compared with `10^p`.
fn cmp_pow10(num: &BigInt, den: &BigInt, p: i64) -> Ordering {
    if p >= 0 {
        num.cmp(&(den * pow10(p as u32)))
    } else {
        (num * pow10((-p) as u32)).cmp(den)
    }
}

/// `num/den / 10^k`, rounded half to even.
fn scaled_round(num: &BigInt, den: &BigInt, k: i64) -> BigInt {
    if k >= 0 {
        Number::round_half_even(num, &(den * pow10(k as u32)))
    } else {
        Number::round_half_even(&(num * pow10((-k) as u32)), den)
    }
}

/// A positive fraction without a finite decimal, printed as Go prints the 512-bit float nearest to it
/// (`big.Float.Text('f', -1)`): the shortest decimal inside the float's rounding interval.
fn shortest_in_512_bits(num: &BigInt, den: &BigInt) -> String {
    // m × 2^e with 2^511 <= m < 2^512.
    let mut e = num.bits() as i64 - den.bits() as i64 - PRECISION_BITS as i64;
    let m = loop {
        let m = if e >= 0 {
            Number::round_half_even(num, &(den << (e as u64)))
        } else {
            Number::round_half_even(&(num << ((-e) as u64)), den)
        };
        match m.bits() {
            b if b > PRECISION_BITS => e += 1,
            b if b < PRECISION_BITS => e -= 1,
            _ => break m,
        }
    };
    // The interval of reals that round to m × 2^e: [(2m-1) × 2^(e-1), (2m+1) × 2^(e-1)], ends included
    // when m is even (ties go to even).
    let as_fraction = |n: BigInt, exp: i64| -> (BigInt, BigInt) {
        if exp >= 0 {
            (n << (exp as u64), BigInt::one())
        } else {
            (n, BigInt::one() << ((-exp) as u64))
        }
    };
    let (lo_n, lo_d) = as_fraction(&m * 2 - 1, e - 1);
    let (hi_n, hi_d) = as_fraction(&m * 2 + 1, e - 1);
    let (v_n, v_d) = as_fraction(m.clone(), e);
    let inclusive = m.is_even();
    let p = decimal_exponent(&v_n, &v_d);
    // At most 156 digits tell 512-bit floats apart; the loop always ends by then.
    for n in 1..=(PRECISION_BITS as i64) {
        let k = p - n + 1;
        let c = scaled_round(&v_n, &v_d, k);
        let (c_n, c_d) = if k >= 0 {
            (&c * pow10(k as u32), BigInt::one())
        } else {
            (c.clone(), pow10((-k) as u32))
        };
        let above_lo = (&c_n * &lo_d).cmp(&(&lo_n * &c_d));
        let below_hi = (&c_n * &hi_d).cmp(&(&hi_n * &c_d));
        let inside = if inclusive {
            above_lo != Ordering::Less && below_hi != Ordering::Greater
        } else {
            above_lo == Ordering::Greater && below_hi == Ordering::Less
        };
        if inside {
            return plain(&c, k);
        }
    }
    plain(&m, 0)
}
