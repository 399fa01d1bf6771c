//! `textencodebase64` and `textdecodebase64`: a string in another character encoding, as Base64.
//! Encodings are named as IANA registers them (any alias, any case). meshform implements the
//! Unicode encodings (`UTF-8`, `UTF-16` with a byte-order mark, `UTF-16LE`, `UTF-16BE`),
//! `ISO-8859-1` and `US-ASCII` itself rather than pull in a table of legacy code pages; other
//! names get Terraform's "not a supported IANA encoding name" error.

use base64::Engine;

use meshform_core::Value;

use super::args::Args;
use super::{FnResult, FunctionError};

#[derive(Debug, Clone, Copy, PartialEq)]
enum TextEncoding {
    Utf8,
    /// UTF-16 with a byte-order mark: big-endian when writing, as the mark says when reading.
    Utf16,
    Utf16Le,
    Utf16Be,
    Latin1,
    Ascii,
}

impl TextEncoding {
    /// The encoding an IANA name or alias stands for (case-insensitive).
    fn from_name(name: &str) -> Option<TextEncoding> {
        const NAMES: &[(&str, TextEncoding)] = &[
            ("utf-8", TextEncoding::Utf8),
            ("csutf8", TextEncoding::Utf8),
            ("utf-16", TextEncoding::Utf16),
            ("csutf16", TextEncoding::Utf16),
            ("utf-16le", TextEncoding::Utf16Le),
            ("csutf16le", TextEncoding::Utf16Le),
            ("utf-16be", TextEncoding::Utf16Be),
            ("csutf16be", TextEncoding::Utf16Be),
            ("iso-8859-1", TextEncoding::Latin1),
            ("iso_8859-1:1987", TextEncoding::Latin1),
            ("iso-ir-100", TextEncoding::Latin1),
            ("iso_8859-1", TextEncoding::Latin1),
            ("latin1", TextEncoding::Latin1),
            ("l1", TextEncoding::Latin1),
            ("ibm819", TextEncoding::Latin1),
            ("cp819", TextEncoding::Latin1),
            ("csisolatin1", TextEncoding::Latin1),
            ("us-ascii", TextEncoding::Ascii),
            ("iso-ir-6", TextEncoding::Ascii),
            ("ansi_x3.4-1968", TextEncoding::Ascii),
            ("ansi_x3.4-1986", TextEncoding::Ascii),
            ("iso_646.irv:1991", TextEncoding::Ascii),
            ("iso646-us", TextEncoding::Ascii),
            ("us", TextEncoding::Ascii),
            ("ibm367", TextEncoding::Ascii),
            ("cp367", TextEncoding::Ascii),
            ("csascii", TextEncoding::Ascii),
        ];
        let lower = name.to_ascii_lowercase();
        NAMES.iter().find(|(n, _)| *n == lower).map(|(_, e)| *e)
    }

    /// The IANA name used in messages.
    fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf16 => "UTF-16",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
            TextEncoding::Latin1 => "ISO-8859-1",
            TextEncoding::Ascii => "US-ASCII",
        }
    }

    /// The bytes of `text`, or `None` when a character has no representation.
    fn encode(self, text: &str) -> Option<Vec<u8>> {
        let units = |big: bool| -> Vec<u8> {
            text.encode_utf16()
                .flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() })
                .collect()
        };
        match self {
            TextEncoding::Utf8 => Some(text.as_bytes().to_vec()),
            TextEncoding::Utf16 => {
                let mut out = vec![0xfe, 0xff];
                out.extend(units(true));
                Some(out)
            }
            TextEncoding::Utf16Le => Some(units(false)),
            TextEncoding::Utf16Be => Some(units(true)),
            TextEncoding::Latin1 => text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect(),
            TextEncoding::Ascii => {
                text.chars().map(|c| if c.is_ascii() { Some(c as u8) } else { None }).collect()
            }
        }
    }

    /// The text of `bytes`, or `None` when they hold a sequence the encoding does not define.
    fn decode(self, bytes: &[u8]) -> Option<String> {
        let utf16 = |data: &[u8], big: bool| -> Option<String> {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units = data.chunks_exact(2).map(|p| {
                if big {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    u16::from_le_bytes([p[0], p[1]])
                }
            });
            char::decode_utf16(units).collect::<Result<String, _>>().ok()
        };
        match self {
            TextEncoding::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
            TextEncoding::Utf16 => match bytes {
                [0xff, 0xfe, rest @ ..] => utf16(rest, false),
                [0xfe, 0xff, rest @ ..] => utf16(rest, true),
                _ => utf16(bytes, true),
            },
            TextEncoding::Utf16Le => utf16(bytes, false),
            TextEncoding::Utf16Be => utf16(bytes, true),
            TextEncoding::Latin1 => Some(bytes.iter().map(|b| char::from(*b)).collect()),
            TextEncoding::Ascii => bytes
                .iter()
                .map(|b| if b.is_ascii() { Some(char::from(*b)) } else { None })
                .collect(),
        }
    }
}

fn encoding_arg(a: &Args) -> Result<TextEncoding, FunctionError> {
    let name = a.string(1, "the encoding")?;
    TextEncoding::from_name(&name).ok_or_else(|| {
        a.error(
            1,
            format!(
                "{name:?} is not a supported IANA encoding name or alias in this meshform version \
                 (supported: UTF-8, UTF-16, UTF-16LE, UTF-16BE, ISO-8859-1, US-ASCII)"
            ),
        )
    })
}

/// `textencodebase64(string, encoding)`: the string's bytes in `encoding`, as Base64.
pub(super) fn textencodebase64(a: &Args) -> FnResult {
    a.exactly(2)?;
    let text = a.string(0, "the string")?;
    let encoding = encoding_arg(a)?;
    let bytes = encoding.encode(&text).ok_or_else(|| {
        a.error(
            0,
            format!(
                "the given string contains characters that cannot be represented in {}",
                encoding.name()
            ),
        )
    })?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// `textdecodebase64(source, encoding)`: Base64 of text in `encoding`, back to a string.
pub(super) fn textdecodebase64(a: &Args) -> FnResult {
    a.exactly(2)?;
    let source = a.string(0, "the Base64 text")?;
    let encoding = encoding_arg(a)?;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(source.as_bytes()).map_err(|e| {
            let offset = match e {
                base64::DecodeError::InvalidByte(at, _)
                | base64::DecodeError::InvalidLastSymbol(at, _) => at,
                base64::DecodeError::InvalidLength(len) => len,
                base64::DecodeError::InvalidPadding => source.find('=').unwrap_or(source.len()),
            };
            a.error(
                0,
                format!("the given value is has an invalid base64 symbol at offset {offset}"),
            )
        })?;
    let text = encoding.decode(&bytes).ok_or_else(|| {
        a.error(
            0,
            format!(
                "the given string contains symbols that are not defined for {}",
                encoding.name()
            ),
        )
    })?;
    Ok(Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn documented_examples() {
        assert_eq!(
            ok("textencodebase64", &[s("Hello World"), s("UTF-16LE")]),
            s("SABlAGwAbABvACAAVwBvAHIAbABkAA==")
        );
        assert_eq!(
            ok("textdecodebase64", &[s("SABlAGwAbABvACAAVwBvAHIAbABkAA=="), s("UTF-16LE")]),
            s("Hello World")
        );
    }

    #[test]
    fn every_supported_encoding_round_trips() {
        for (name, text) in [
            ("utf-8", "héllo ✓ 𝄞"),
            ("UTF-16", "héllo ✓ 𝄞"),
            ("utf-16le", "héllo ✓ 𝄞"),
            ("UTF-16BE", "héllo ✓ 𝄞"),
            ("latin1", "héllo"),
            ("ISO-8859-1", "ÿ"),
            ("US-ASCII", "hello"),
            ("csASCII", "x"),
        ] {
            let b64 = ok("textencodebase64", &[s(text), s(name)]);
            assert_eq!(ok("textdecodebase64", &[b64, s(name)]), s(text), "{name}");
        }
        assert_eq!(ok("textencodebase64", &[s("A"), s("UTF-16")]), s("/v8AQQ=="));
        assert_eq!(ok("textencodebase64", &[s("A"), s("UTF-16BE")]), s("AEE="));
        assert_eq!(ok("textencodebase64", &[s("é"), s("ISO-8859-1")]), s("6Q=="));
        // A little-endian byte-order mark is honoured when reading UTF-16.
        assert_eq!(ok("textdecodebase64", &[s("//5BAA=="), s("UTF-16")]), s("A"));
    }

    #[test]
    fn errors_like_terraform() {
        assert_eq!(
            err("textencodebase64", &[s("✓"), s("ISO-8859-1")]),
            "textencodebase64: the given string contains characters that cannot be represented \
             in ISO-8859-1"
        );
        assert_eq!(
            err("textencodebase64", &[s("é"), s("us-ascii")]),
            "textencodebase64: the given string contains characters that cannot be represented \
             in US-ASCII"
        );
        assert_eq!(
            err("textencodebase64", &[s("x"), s("EBCDIC-NOPE")]),
            "textencodebase64: \"EBCDIC-NOPE\" is not a supported IANA encoding name or alias in \
             this meshform version (supported: UTF-8, UTF-16, UTF-16LE, UTF-16BE, ISO-8859-1, \
             US-ASCII)"
        );
        assert_eq!(
            err("textdecodebase64", &[s("SABlA$"), s("UTF-16LE")]),
            "textdecodebase64: the given value is has an invalid base64 symbol at offset 5"
        );
        assert_eq!(
            err("textdecodebase64", &[s("QQ=="), s("UTF-16LE")]),
            "textdecodebase64: the given string contains symbols that are not defined for UTF-16LE"
        );
        assert_eq!(
            err("textdecodebase64", &[s("gA=="), s("US-ASCII")]),
            "textdecodebase64: the given string contains symbols that are not defined for US-ASCII"
        );
        assert_eq!(
            err("textdecodebase64", &[s("/w=="), s("UTF-8")]),
            "textdecodebase64: the given string contains symbols that are not defined for UTF-8"
        );
        assert_eq!(
            err("textdecodebase64", &[s("QQ==")]),
            "textdecodebase64 takes 2 arguments, got 1"
        );
    }
}
