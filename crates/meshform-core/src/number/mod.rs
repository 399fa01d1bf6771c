//! [`Number`]: an exact number as HCL and Terraform have them: literals parse exactly (`0.1` is one
//! tenth), `+ - * /` are exact, comparisons and equality are exact, and the text is the decimal Terraform
//! prints (`0.3`, `9007199254740993`, no `3.0`).
//!
//! A number is an `i64` when it is a small integer (ports, counts, indexes: nearly every number a
//! configuration holds), otherwise a reduced fraction of big integers. Terraform keeps numbers as 512-bit
//! binary floats; a fraction gives the same results for every decimal literal and every sum, difference
//! and product of them, and a quotient that has no finite decimal (`1 / 3`) prints as Terraform prints it
//! (see [`text`]). Functions that Terraform computes in `float64` (`log`, `pow`) go through
//! [`Number::from_f64`], which keeps the shortest decimal of the float, as Terraform does.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

mod text;

/// The largest decimal exponent a number may be written with (`1e10000`): bigger ones would take a lot
/// of memory for nothing a configuration needs.
pub const MAX_DECIMAL_EXPONENT: i64 = 10_000;

/// The most bits an arithmetic result's numerator or denominator may have (about 21,000 decimal
/// digits: twice the largest literal, `1e10000`, squared fits). Exact arithmetic on bigger numbers
/// grows without bound (squaring again and again) and would hang a plan; Terraform stops at 512-bit
/// floats.
pub const MAX_RESULT_BITS: u64 = 70_000;

/// An exact number. Equal numbers are equal values whatever their origin (`0.1 + 0.2 == 0.3`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Small(i64),
    /// Never an integer that fits an `i64` (that is `Small`).
    Big(Box<Fraction>),
}

/// `num / den`, reduced, with `den > 0`.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Fraction {
    num: BigInt,
    den: BigInt,
}

/// Why a text is not a number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseNumberError {
    #[error("{0:?} is not a number: write digits, an optional fraction and exponent, as `42`, `-1.5` or `1e6`")]
    Invalid(String),
    #[error("{0:?} is too large or too small: exponents may be at most {MAX_DECIMAL_EXPONENT}")]
    OutOfRange(String),
}

impl Number {
    pub const ZERO: Number = Number(Repr::Small(0));

    fn from_fraction(num: BigInt, den: BigInt) -> Number {
        if den.is_one() {
            return match num.to_i64() {
                Some(i) => Number(Repr::Small(i)),
                None => Number(Repr::Big(Box::new(Fraction { num, den }))),
            };
        }
        let (num, den) = if den.is_negative() { (-num, -den) } else { (num, den) };
        let g = num.gcd(&den);
        let (num, den) = if g.is_one() || g.is_zero() { (num, den) } else { (num / &g, den / &g) };
        if den.is_one() {
            if let Some(i) = num.to_i64() {
                return Number(Repr::Small(i));
            }
        }
        Number(Repr::Big(Box::new(Fraction { num, den })))
    }

    /// An integer of any size.
    pub fn from_bigint(i: BigInt) -> Number {
        Number::from_fraction(i, BigInt::one())
    }

    /// The numerator and denominator (reduced, denominator positive).
    fn parts(&self) -> (BigInt, BigInt) {
        match &self.0 {
            Repr::Small(i) => (BigInt::from(*i), BigInt::one()),
            Repr::Big(f) => (f.num.clone(), f.den.clone()),
        }
    }

    /// Parses a decimal number as HCL and Terraform's `tonumber` accept it: an optional sign, digits with
    /// an optional fraction, an optional exponent (`-1.5e3`). The value is exact.
    pub fn parse(text: &str) -> Result<Number, ParseNumberError> {
        let invalid = || ParseNumberError::Invalid(text.to_owned());
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !digits_ok(int_part)
            || !digits_ok(frac_part)
        {
            return Err(invalid());
        }
        let exp: i64 = match exponent {
            None => 0,
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !digits_ok(unsigned) {
                    return Err(invalid());
                }
                // A too long exponent is out of range, not invalid.
                e.parse::<i64>()
                    .ok()
                    .filter(|x| x.abs() <= MAX_DECIMAL_EXPONENT)
                    .ok_or_else(|| ParseNumberError::OutOfRange(text.to_owned()))?
            }
        };
        let all_digits = format!("{int_part}{frac_part}");
        let digits = all_digits.trim_start_matches('0');
        let mut num = if digits.is_empty() {
            BigInt::zero()
        } else {
            digits.parse::<BigInt>().map_err(|_| invalid())?
        };
        let scale = exp - frac_part.len() as i64;
        if scale.abs() > MAX_DECIMAL_EXPONENT + 1_000 {
            return Err(ParseNumberError::OutOfRange(text.to_owned()));
        }
        if negative {
            num = -num;
        }
        Ok(if scale >= 0 {
            Number::from_fraction(num * pow10(scale as u32), BigInt::one())
        } else {
            Number::from_fraction(num, pow10((-scale) as u32))
        })
    }

    /// The number nearest to a float, as Terraform makes it (`cty.NumberFloatVal`): the shortest decimal
    /// that reads back as the same float (`0.1_f64` is `0.1`). `None` for NaN and infinities.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        // `{:e}` is the shortest round-trip text; its exponent is at most 308.
        Number::parse(&format!("{f:e}")).ok()
    }

    /// The nearest float (infinite when out of `f64` range).
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Small(i) => *i as f64,
            // Forty significant digits then Rust's correctly rounded parser: exact enough that the
            // double rounding never shows.
            Repr::Big(_) => self.to_scientific(40).parse().unwrap_or(f64::NAN),
        }
    }

    /// The value as an `i64` when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Small(i) => Some(*i),
            Repr::Big(_) => None,
        }
    }

    /// The value as a `u64` when it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match &self.0 {
            Repr::Small(i) => u64::try_from(*i).ok(),
            Repr::Big(f) if f.den.is_one() => f.num.to_u64(),
            Repr::Big(_) => None,
        }
    }

    /// The value as an index or count when it is a non-negative integer in range.
    pub fn as_usize(&self) -> Option<usize> {
        self.as_u64().and_then(|u| usize::try_from(u).ok())
    }

    /// The value as an `i128` when it is an integer in range (IPv6 host numbers).
    pub fn as_i128(&self) -> Option<i128> {
        self.as_bigint().and_then(|i| i.to_i128())
    }

    /// The value as an integer of any size, when it is a whole number.
    pub fn as_bigint(&self) -> Option<BigInt> {
        match &self.0 {
            Repr::Small(i) => Some(BigInt::from(*i)),
            Repr::Big(f) if f.den.is_one() => Some(f.num.clone()),
            Repr::Big(_) => None,
        }
    }

    pub fn is_integer(&self) -> bool {
        match &self.0 {
            Repr::Small(_) => true,
            Repr::Big(f) => f.den.is_one(),
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.0, Repr::Small(0))
    }

    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Small(i) => *i < 0,
            Repr::Big(f) => f.num.is_negative(),
        }
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i64 {
        match self.cmp(&Number::ZERO) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    pub fn abs(&self) -> Number {
        if self.is_negative() {
            self.neg()
        } else {
            self.clone()
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn neg(&self) -> Number {
        match &self.0 {
            Repr::Small(i) if *i != i64::MIN => Number(Repr::Small(-i)),
            _ => {
                let (n, d) = self.parts();
                Number::from_fraction(-n, d)
            }
        }
    }

    /// The bits of the larger of numerator and denominator.
    pub fn bits(&self) -> u64 {
        match &self.0 {
            Repr::Small(i) => u64::from(64 - i.unsigned_abs().leading_zeros()),
            Repr::Big(f) => f.num.bits().max(f.den.bits()),
        }
    }

    /// Whether an arithmetic result is past [`MAX_RESULT_BITS`].
    pub fn too_large(&self) -> bool {
        self.bits() > MAX_RESULT_BITS
    }

    #[allow(clippy::should_implement_trait)]
    pub fn add(&self, other: &Number) -> Number {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0) {
            if let Some(s) = a.checked_add(*b) {
                return Number(Repr::Small(s));
            }
        }
        let ((an, ad), (bn, bd)) = (self.parts(), other.parts());
        if ad == bd {
            return Number::from_fraction(an + bn, ad);
        }
        Number::from_fraction(an * &bd + bn * &ad, ad * bd)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn sub(&self, other: &Number) -> Number {
        self.add(&other.neg())
    }

    #[allow(clippy::should_implement_trait)]
    pub fn mul(&self, other: &Number) -> Number {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0) {
            if let Some(p) = a.checked_mul(*b) {
                return Number(Repr::Small(p));
            }
        }
        let ((an, ad), (bn, bd)) = (self.parts(), other.parts());
        Number::from_fraction(an * bn, ad * bd)
    }

    /// The exact quotient; `None` when `other` is zero.
    pub fn checked_div(&self, other: &Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0) {
            if a.checked_rem(*b) == Some(0) {
                return a.checked_div(*b).map(|q| Number(Repr::Small(q)));
            }
        }
        let ((an, ad), (bn, bd)) = (self.parts(), other.parts());
        Some(Number::from_fraction(an * bd, ad * bn))
    }

    /// Terraform's `%`: the remainder of the division truncated toward zero, so it has the sign of the
    /// dividend (`-7 % 3` is `-1`, `7.5 % 2` is `1.5`). `None` when `other` is zero.
    pub fn checked_rem(&self, other: &Number) -> Option<Number> {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0) {
            if *b != 0 {
                if let Some(r) = a.checked_rem(*b) {
                    return Some(Number(Repr::Small(r)));
                }
            }
        }
        let q = self.checked_div(other)?.trunc();
        Some(self.sub(&other.mul(&q)))
    }

    /// Rounds toward zero.
    pub fn trunc(&self) -> Number {
        match &self.0 {
            Repr::Small(_) => self.clone(),
            // BigInt division truncates toward zero.
            Repr::Big(f) => Number::from_bigint(&f.num / &f.den),
        }
    }

    /// The largest integer not above the number.
    pub fn floor(&self) -> Number {
        match &self.0 {
            Repr::Small(_) => self.clone(),
            Repr::Big(f) => Number::from_bigint(f.num.div_floor(&f.den)),
        }
    }

    /// The smallest integer not below the number.
    pub fn ceil(&self) -> Number {
        self.neg().floor().neg()
    }

    /// The integer nearest to the number, ties to even (Go's `big.Float` rounding).
    fn round_half_even(num: &BigInt, den: &BigInt) -> BigInt {
        let (q, r) = num.div_mod_floor(den);
        let twice: BigInt = &r * 2;
        match twice.cmp(den) {
            Ordering::Less => q,
            Ordering::Greater => q + 1,
            Ordering::Equal if q.is_even() => q,
            Ordering::Equal => q + 1,
        }
    }
}

/// `10^n`.
fn pow10(n: u32) -> BigInt {
    num_traits::pow(BigInt::from(10), n as usize)
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0) {
            return a.cmp(b);
        }
        let ((an, ad), (bn, bd)) = (self.parts(), other.parts());
        if ad == bd {
            return an.cmp(&bn);
        }
        (an * bd).cmp(&(bn * ad))
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::str::FromStr for Number {
    type Err = ParseNumberError;
    fn from_str(s: &str) -> Result<Number, ParseNumberError> {
        Number::parse(s)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(i: $t) -> Number {
                match i64::try_from(i) {
                    Ok(i) => Number(Repr::Small(i)),
                    Err(_) => Number::from_bigint(BigInt::from(i)),
                }
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, usize, i128, u128);

impl From<BigInt> for Number {
    fn from(i: BigInt) -> Number {
        Number::from_bigint(i)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Number {
    /// Integers as JSON integers; other numbers as the float with the same text when there is one
    /// (`0.3`), else as the nearest float.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Some(i) = self.as_i64() {
            return s.serialize_i64(i);
        }
        if let Some(u) = self.as_u64() {
            return s.serialize_u64(u);
        }
        s.serialize_f64(self.to_f64())
    }
}

#[cfg(test)]
mod tests;
