//! Hexadecimal text of bytes: digests in state, plan files, signatures and fingerprints.

use std::fmt::Write as _;

/// `bytes` as lowercase hexadecimal, two digits a byte (`[0xab, 0x01]` → `"ab01"`).
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `bytes` as uppercase hexadecimal (`[0xab, 0x01]` → `"AB01"`).
pub fn encode_upper(bytes: &[u8]) -> String {
    encode(bytes).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_digits_a_byte() {
        assert_eq!(encode(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(encode_upper(&[0x00, 0x0f, 0xab, 0xff]), "000FABFF");
        assert_eq!(encode(&[]), "");
    }
}
