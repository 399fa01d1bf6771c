//! Hash functions of a string's UTF-8 bytes: `sha1`, `sha256`, `sha512` (hex) and `base64sha256`,
//! `base64sha512`. SHA-1 is implemented here to avoid a dependency for a legacy function.

use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use meshform_core::{hex, Value};

use super::args::Args;
use super::FnResult;

fn hash_arg(
    a: &Args,
    digest: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<Vec<u8>, super::FunctionError> {
    a.exactly(1)?;
    Ok(digest(a.string(0, "the string")?.as_bytes()))
}

pub(super) fn sha256(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&hash_arg(a, |b| Sha256::digest(b).to_vec())?)))
}

pub(super) fn sha512(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&hash_arg(a, |b| Sha512::digest(b).to_vec())?)))
}

pub(super) fn base64sha256(a: &Args) -> FnResult {
    let digest = hash_arg(a, |b| Sha256::digest(b).to_vec())?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(digest)))
}

pub(super) fn base64sha512(a: &Args) -> FnResult {
    let digest = hash_arg(a, |b| Sha512::digest(b).to_vec())?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(digest)))
}

pub(super) fn sha1(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&hash_arg(a, |b| sha1_digest(b).to_vec())?)))
}

/// SHA-1 (FIPS 180-4).
fn sha1_digest(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t =
                a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            ok("sha256", &[s("hello world")]),
            s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
        );
        assert_eq!(
            ok("base64sha256", &[s("hello world")]),
            s("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
        );
        assert_eq!(ok("sha1", &[s("hello world")]), s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"));
        assert_eq!(ok("sha1", &[s("")]), s("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
        // Two blocks of padding.
        assert_eq!(
            ok("sha1", &[s(&"a".repeat(1000))]),
            s("291e9a6c66994949b57ba5e650361e98fc36b1ba")
        );
        assert_eq!(
            ok("sha512", &[s("")]),
            s("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
               47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
        );
        assert_eq!(ok("base64sha512", &[s("")]).as_str().map(str::len), Some(88));
        assert_eq!(ok("sha256", &[n(1.0)]), ok("sha256", &[s("1")]));
        assert_eq!(err("sha256", &[list([])]), "sha256: the string must be a string, got list");
        assert_eq!(err("sha1", &[]), "sha1 takes 1 argument, got 0");
    }
}
