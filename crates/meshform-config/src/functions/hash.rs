//! Hash functions of a string's UTF-8 bytes: `md5`, `sha1`, `sha256`, `sha512` (hex) and
//! `base64sha256`, `base64sha512`; the same of a file's bytes (`filemd5`, `filesha1`, …,
//! `filebase64sha512`); and `uuidv5`, a name-based UUID. MD5 and SHA-1 are implemented here to
//! avoid dependencies for legacy functions. `uuid` and `bcrypt` are refused: their results are
//! random, and meshform's plans must be the same for the same inputs; `rsadecrypt` too (no RSA
//! implementation in this crate's dependencies).

use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use meshform_core::{hex, Value};

use super::args::Args;
use super::{FnResult, FunctionError};

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

pub(super) fn md5(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&hash_arg(a, |b| md5_digest(b).to_vec())?)))
}

/// The digest of the bytes of the file named by the only argument.
fn file_hash(a: &Args, digest: impl FnOnce(&[u8]) -> Vec<u8>) -> Result<Vec<u8>, FunctionError> {
    let (_, bytes) = super::filesystem::read(a)?;
    Ok(digest(&bytes))
}

pub(super) fn filemd5(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&file_hash(a, |b| md5_digest(b).to_vec())?)))
}

pub(super) fn filesha1(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&file_hash(a, |b| sha1_digest(b).to_vec())?)))
}

pub(super) fn filesha256(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&file_hash(a, |b| Sha256::digest(b).to_vec())?)))
}

pub(super) fn filesha512(a: &Args) -> FnResult {
    Ok(Value::String(hex::encode(&file_hash(a, |b| Sha512::digest(b).to_vec())?)))
}

pub(super) fn filebase64sha256(a: &Args) -> FnResult {
    let digest = file_hash(a, |b| Sha256::digest(b).to_vec())?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(digest)))
}

pub(super) fn filebase64sha512(a: &Args) -> FnResult {
    let digest = file_hash(a, |b| Sha512::digest(b).to_vec())?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(digest)))
}

/// `rsadecrypt(ciphertext, key)`: refused; the configuration crate carries no RSA.
pub(super) fn rsadecrypt(a: &Args) -> FnResult {
    Err(a.fail(
        "not supported: meshform's configuration language has no RSA implementation; decrypt \
         the value outside meshform and pass it in as a sensitive variable",
    ))
}

/// `uuid()` and `bcrypt(…)`: refused, because their results are random.
pub(super) fn random(a: &Args) -> FnResult {
    let instead = if a.name == "uuid" {
        "use uuidv5(namespace, name) for a stable identifier derived from a name"
    } else {
        "hash the password outside meshform and pass the hash in as a sensitive variable"
    };
    Err(a.fail(format!(
        "not supported: its result is random on every run, and meshform plans must be the same \
         for the same configuration, state and infrastructure; {instead}"
    )))
}

/// The bytes of a UUID written as Google's `uuid.Parse` accepts it (hyphenated, `urn:uuid:`
/// prefixed, in braces, or 32 bare hex digits); the error is that library's.
fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    let b = s.as_bytes();
    let hex = |i: usize| -> Option<u8> {
        let pair = std::str::from_utf8(b.get(i..i + 2)?).ok()?;
        u8::from_str_radix(pair, 16).ok().filter(|_| pair.bytes().all(|c| c.is_ascii_hexdigit()))
    };
    let bad = || "invalid UUID format".to_string();
    let mut out = [0u8; 16];
    if b.len() == 32 {
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = hex(i * 2).ok_or_else(bad)?;
        }
        return Ok(out);
    }
    let start = match b.len() {
        36 => 0,
        45 if b[..9].eq_ignore_ascii_case(b"urn:uuid:") => 9,
        45 => return Err(format!("invalid urn prefix: \"{}\"", String::from_utf8_lossy(&b[..9]))),
        38 => 1,
        n => return Err(format!("invalid UUID length: {n}")),
    };
    if [8, 13, 18, 23].iter().any(|i| b[start + i] != b'-') {
        return Err(bad());
    }
    let offsets = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    for (byte, at) in out.iter_mut().zip(offsets) {
        *byte = hex(start + at).ok_or_else(bad)?;
    }
    Ok(out)
}

/// `uuidv5(namespace, name)`: the RFC 4122 version 5 (SHA-1) UUID of `name` in a namespace given as
/// `dns`, `url`, `oid`, `x500` or a UUID.
pub(super) fn uuidv5(a: &Args) -> FnResult {
    a.exactly(2)?;
    let namespace = a.string(0, "the namespace")?;
    let name = a.string(1, "the name")?;
    let well_known = |last: u8| {
        let mut ns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        ns[3] = last;
        ns
    };
    let ns = match namespace.as_ref() {
        "dns" => well_known(0x10),
        "url" => well_known(0x11),
        "oid" => well_known(0x12),
        "x500" => well_known(0x14),
        other => parse_uuid(other)
            .map_err(|e| a.error(0, format!("uuidv5() doesn't support namespace {other} ({e})")))?,
    };
    let mut input = ns.to_vec();
    input.extend_from_slice(name.as_bytes());
    let digest = sha1_digest(&input);
    let mut u = [0u8; 16];
    u.copy_from_slice(&digest[..16]);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    let h = hex::encode(&u);
    Ok(Value::String(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )))
}

/// MD5 (RFC 1321).
fn md5_digest(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // floor(|sin(i + 1)| * 2^32), as RFC 1321 tabulates it.
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_le_bytes());
    for block in message.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (i, word) in block.chunks_exact(4).enumerate() {
            m[i] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        }
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i {
                0..=15 => ((b & c) | (!b & d), i),
                16..=31 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                32..=47 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(K[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
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
    use super::super::{call, FunctionContext};

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

    #[test]
    fn md5_like_terraform() {
        assert_eq!(ok("md5", &[s("hello world")]), s("5eb63bbbe01eeed093cb22bb8f5acdc3"));
        assert_eq!(ok("md5", &[s("")]), s("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(
            ok("md5", &[s("The quick brown fox jumps over the lazy dog")]),
            s("9e107d9d372bb6826bd81d3542a419d6")
        );
        // Padding that spills into a second block.
        assert_eq!(ok("md5", &[s(&"a".repeat(56))]), s("3b0c8ac703f828b04c6c197006d17218"));
        assert_eq!(err("md5", &[list([])]), "md5: the string must be a string, got list");
    }

    #[test]
    fn file_hashes_match_the_string_hashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello.txt"), "hello world").unwrap();
        let ctx = FunctionContext { base_dir: dir.path() };
        let file = |name: &str| call(name, &[s("hello.txt")], &ctx).map_err(|e| e.to_string());
        for (file_fn, string_fn) in [
            ("filemd5", "md5"),
            ("filesha1", "sha1"),
            ("filesha256", "sha256"),
            ("filesha512", "sha512"),
            ("filebase64sha256", "base64sha256"),
            ("filebase64sha512", "base64sha512"),
        ] {
            assert_eq!(file(file_fn), Ok(ok(string_fn, &[s("hello world")])), "{file_fn}");
            let e = call(file_fn, &[s("missing.txt")], &ctx).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{file_fn}: cannot read missing.txt (")), "{e}");
        }
        assert_eq!(file("filemd5"), Ok(s("5eb63bbbe01eeed093cb22bb8f5acdc3")));
        // Binary files hash too; `file()` would refuse them.
        std::fs::write(dir.path().join("bin"), [0xff, 0x00]).unwrap();
        assert!(call("filesha256", &[s("bin")], &ctx).is_ok());
    }

    #[test]
    fn uuidv5_documented_examples() {
        let cases = [
            ("dns", "www.terraform.io", "a5008fae-b28c-5ba5-96cd-82b4c53552d6"),
            ("url", "https://www.terraform.io/", "9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5"),
            ("oid", "1.3.6.1.4", "af9d40a5-7a36-5c07-b23a-851cd99fbfa5"),
            ("x500", "CN=Example,C=GB", "84e09961-4aa4-57f8-95b7-03edb1073253"),
            (
                "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
                "www.terraform.io",
                "a5008fae-b28c-5ba5-96cd-82b4c53552d6",
            ),
            (
                "743ac3c0-3bf7-4a5b-9e6c-59360447c757",
                "LIBS:diskfont.library",
                "ede1a974-df7e-5f17-84b9-76208818b2c8",
            ),
            (
                "6ba7b8109dad11d180b400c04fd430c8",
                "www.terraform.io",
                "a5008fae-b28c-5ba5-96cd-82b4c53552d6",
            ),
            (
                "urn:uuid:6BA7B810-9DAD-11D1-80B4-00C04FD430C8",
                "www.terraform.io",
                "a5008fae-b28c-5ba5-96cd-82b4c53552d6",
            ),
        ];
        for (ns, name, want) in cases {
            assert_eq!(ok("uuidv5", &[s(ns), s(name)]), s(want), "{ns}");
        }
        assert_eq!(
            err("uuidv5", &[s("nope"), s("x")]),
            "uuidv5: uuidv5() doesn't support namespace nope (invalid UUID length: 4)"
        );
        assert_eq!(
            err("uuidv5", &[s("6ba7b810-9dad-11d1-80b4_00c04fd430c8"), s("x")]),
            "uuidv5: uuidv5() doesn't support namespace 6ba7b810-9dad-11d1-80b4_00c04fd430c8 \
             (invalid UUID format)"
        );
        assert_eq!(err("uuidv5", &[s("dns")]), "uuidv5 takes 2 arguments, got 1");
    }

    #[test]
    fn random_functions_are_refused_with_a_way_out() {
        let e = err("uuid", &[]);
        assert!(e.starts_with("uuid: not supported: its result is random"), "{e}");
        assert!(e.contains("uuidv5"), "{e}");
        let e = err("rsadecrypt", &[s("eA=="), s("key")]);
        assert!(e.starts_with("rsadecrypt: not supported:"), "{e}");
        let e = err("bcrypt", &[s("password")]);
        assert!(e.starts_with("bcrypt: not supported: its result is random"), "{e}");
    }
}
