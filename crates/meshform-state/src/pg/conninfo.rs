//! Taking the TLS keywords (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`) out of a libpq connection
//! string, in either of libpq's forms (`key=value …` or a `postgres://` URL), so that the `postgres`
//! crate's parser, which knows only `disable`/`prefer`/`require` and no certificate files, sees the
//! rest and the TLS settings are interpreted here as libpq interprets them.

/// The keywords this module takes out.
pub(super) const TLS_KEYWORDS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// A connection string split in two: what the `postgres` crate parses, and the TLS keywords with
/// their (unquoted, decoded) values.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SplitConnStr {
    pub rest: String,
    pub tls: Vec<(String, String)>,
}

impl SplitConnStr {
    /// The value of a TLS keyword (the last one wins, as in libpq).
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.tls.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Splits `conn_str`. Malformed input is passed on untouched, for the `postgres` crate's parser to
/// refuse with its own message.
pub(super) fn split_tls_keywords(conn_str: &str) -> SplitConnStr {
    if conn_str.starts_with("postgres://") || conn_str.starts_with("postgresql://") {
        split_url(conn_str)
    } else {
        split_key_values(conn_str)
    }
}

fn split_url(url: &str) -> SplitConnStr {
    let Some((base, query)) = url.split_once('?') else {
        return SplitConnStr { rest: url.to_owned(), tls: vec![] };
    };
    let mut kept = Vec::new();
    let mut tls = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match percent_decode(key) {
            Some(k) if TLS_KEYWORDS.contains(&k.as_str()) => {
                let Some(v) = percent_decode(value) else {
                    return SplitConnStr { rest: url.to_owned(), tls: vec![] };
                };
                tls.push((k, v));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    SplitConnStr { rest, tls }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `key = value` pairs separated by white space; a value is either single-quoted (with `\'` and
/// `\\` escapes) or runs to the next white space (backslash escapes too).
fn split_key_values(s: &str) -> SplitConnStr {
    let mut kept: Vec<&str> = Vec::new();
    let mut tls = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // Not `key=value`: leave the whole string to the postgres parser's error.
            return SplitConnStr { rest: s.to_owned(), tls: vec![] };
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut closed = !quoted;
        // Where this `key=value` ends in `s` (its terminating white space excluded).
        let mut end = s.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '\'' if quoted => {
                    closed = true;
                    end = i + 1;
                    break;
                }
                c if !quoted && c.is_whitespace() => {
                    end = i;
                    break;
                }
                c => value.push(c),
            }
        }
        if !closed {
            return SplitConnStr { rest: s.to_owned(), tls: vec![] };
        }
        if TLS_KEYWORDS.contains(&key.as_str()) {
            tls.push((key, value));
        } else {
            kept.push(&s[start..end]);
        }
    }
    SplitConnStr { rest: kept.join(" "), tls }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(split: &SplitConnStr) -> Vec<(&str, &str)> {
        split.tls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn key_value_strings_lose_only_their_tls_keywords() {
        let s = split_tls_keywords(
            "host=db port=5432 sslmode = verify-full password='a b\\'c' \
             sslrootcert='/etc/my certs/ca.pem' sslcert=/c\\ d.crt dbname=infra user=a\\ ",
        );
        assert_eq!(s.rest, "host=db port=5432 password='a b\\'c' dbname=infra user=a\\ ");
        assert_eq!(
            pairs(&s),
            [
                ("sslmode", "verify-full"),
                ("sslrootcert", "/etc/my certs/ca.pem"),
                ("sslcert", "/c d.crt")
            ]
        );
        assert_eq!(s.get("sslmode"), Some("verify-full"));
        assert_eq!(s.get("sslkey"), None);
    }

    #[test]
    fn urls_lose_only_their_tls_query_parameters() {
        let s = split_tls_keywords(
            "postgres://ci:p%40ss@db:5432/infra?sslmode=verify-ca&connect_timeout=5&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(s.rest, "postgres://ci:p%40ss@db:5432/infra?connect_timeout=5");
        assert_eq!(pairs(&s), [("sslmode", "verify-ca"), ("sslrootcert", "/tmp/ca.pem")]);
        let s = split_tls_keywords("postgresql://db/infra?sslmode=require");
        assert_eq!((s.rest.as_str(), s.get("sslmode")), ("postgresql://db/infra", Some("require")));
        let plain = split_tls_keywords("postgres://db/infra");
        assert_eq!((plain.rest.as_str(), plain.tls.len()), ("postgres://db/infra", 0));
    }

    #[test]
    fn malformed_strings_are_left_for_the_postgres_parser() {
        for bad in ["host=db sslmode", "password='open sslmode=require", "just words"] {
            let s = split_tls_keywords(bad);
            assert_eq!((s.rest.as_str(), s.tls.len()), (bad, 0), "{bad}");
        }
        assert_eq!(split_tls_keywords("").rest, "");
    }
}
