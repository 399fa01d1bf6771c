//! `csvdecode`: RFC 4180 text to a list of objects keyed by the header row, read as Go's
//! `encoding/csv` reads it (Terraform's reader): `""` escapes a quote, quoted fields may span lines,
//! blank lines are skipped, every record must have as many fields as the header.

use std::collections::BTreeMap;

use meshform_core::Value;

use super::args::Args;
use super::FnResult;

/// Why the text is not CSV, with the 1-based line Go would report.
#[derive(Debug, PartialEq)]
struct CsvError {
    line: usize,
    what: &'static str,
}

const BARE_QUOTE: &str = "bare \" in non-quoted-field";
const QUOTE: &str = "extraneous or missing \" in quoted-field";
const FIELD_COUNT: &str = "wrong number of fields";

/// Lines with their terminators normalised as Go does: `\r\n` becomes `\n`, and a final line
/// without a terminator loses a trailing `\r`.
fn lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = match rest.find('\n') {
            Some(i) => (&rest[..=i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let mut line = line.to_string();
        if line.ends_with("\r\n") {
            line.truncate(line.len() - 2);
            line.push('\n');
        } else if !line.ends_with('\n') {
            if line.ends_with('\r') {
                line.pop();
            }
            line.push('\n');
        }
        out.push(line);
        rest = tail;
    }
    out
}

/// Reads every record; each is its fields and the line it started on.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
    let lines = lines(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == "\n" {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut fields = Vec::new();
        // `line` is the unread part of the current line, always ending in '\n'.
        let mut line: &str = &lines[i];
        loop {
            if !line.starts_with('"') {
                let end = line.find(',').unwrap_or(line.len() - 1);
                let field = &line[..end];
                if field.contains('"') {
                    return Err(CsvError { line: i + 1, what: BARE_QUOTE });
                }
                fields.push(field.to_string());
                if line.as_bytes()[end] == b',' {
                    line = &line[end + 1..];
                    continue;
                }
                break;
            }
            let mut field = String::new();
            line = &line[1..];
            loop {
                match line.find('"') {
                    Some(q) => {
                        field.push_str(&line[..q]);
                        line = &line[q + 1..];
                        if line.starts_with('"') {
                            field.push('"');
                            line = &line[1..];
                        } else if let Some(after) = line.strip_prefix(',') {
                            line = after;
                            fields.push(std::mem::take(&mut field));
                            break;
                        } else if line == "\n" {
                            fields.push(std::mem::take(&mut field));
                            line = "";
                            break;
                        } else {
                            return Err(CsvError { line: i + 1, what: QUOTE });
                        }
                    }
                    None => {
                        // The quoted field goes on to the next line.
                        field.push_str(line);
                        i += 1;
                        match lines.get(i) {
                            Some(next) => line = next,
                            None => return Err(CsvError { line: i, what: QUOTE }),
                        }
                    }
                }
            }
            if line.is_empty() {
                break;
            }
        }
        out.push((start, fields));
        i += 1;
    }
    Ok(out)
}

/// `csvdecode(string)`: one object per record after the header, every value a string.
pub(super) fn csvdecode(a: &Args) -> FnResult {
    a.exactly(1)?;
    let text = a.string(0, "the CSV text")?;
    let parse_error =
        |e: CsvError| a.error(0, format!("CSV parse error on line {}: {}", e.line, e.what));
    let mut records = records(&text).map_err(parse_error)?.into_iter();
    let Some((_, header)) = records.next() else {
        return Err(a.error(0, "missing header line"));
    };
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            return Err(a.error(0, format!("duplicate column name {name:?}")));
        }
    }
    let mut rows = Vec::new();
    for (line, fields) in records {
        if fields.len() != header.len() {
            return Err(parse_error(CsvError { line, what: FIELD_COUNT }));
        }
        let row: BTreeMap<String, Value> =
            header.iter().cloned().zip(fields.into_iter().map(Value::String)).collect();
        rows.push(Value::Map(row));
    }
    Ok(Value::List(rows))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;

    fn row(pairs: &[(&str, &str)]) -> Value {
        Value::map(pairs.iter().map(|(k, v)| (*k, s(v))))
    }

    #[test]
    fn decodes_like_terraform() {
        assert_eq!(
            ok("csvdecode", &[s("a,b,c\n1,2,3\n4,5,6")]),
            list([
                row(&[("a", "1"), ("b", "2"), ("c", "3")]),
                row(&[("a", "4"), ("b", "5"), ("c", "6")]),
            ])
        );
        assert_eq!(ok("csvdecode", &[s("a,b,c\n")]), list([]));
        // go-cty's test vectors.
        assert_eq!(
            ok(
                "csvdecode",
                &[s("\"name\",\"size\",\"type\"\n\"foo\",\"100\",\"tiny\"\n\"bar\",\"\",\"huge\"\n\"baz\",\"50\",\"weedy\"\n")]
            ),
            list([
                row(&[("name", "foo"), ("size", "100"), ("type", "tiny")]),
                row(&[("name", "bar"), ("size", ""), ("type", "huge")]),
                row(&[("name", "baz"), ("size", "50"), ("type", "weedy")]),
            ])
        );
        assert_eq!(ok("csvdecode", &[s("\"just\",\"header\",\"line\"")]), list([]));
        assert_eq!(ok("csvdecode", &[s("not csv at all")]), list([]));
        assert_eq!(
            err("csvdecode", &[s("invalid\"thing\"")]),
            "csvdecode: CSV parse error on line 1: bare \" in non-quoted-field"
        );
        assert_eq!(
            ok("csvdecode", &[s("name,note\r\n\r\n\"x, y\",\"say \"\"hi\"\"\nthere\"\r\n z ,\n")]),
            list([
                row(&[("name", "x, y"), ("note", "say \"hi\"\nthere")]),
                row(&[("name", " z "), ("note", "")])
            ])
        );
        assert_eq!(ok("csvdecode", &[s("a\n\"\"\r")]), list([row(&[("a", "")])]));
    }

    #[test]
    fn errors_like_terraform() {
        assert_eq!(err("csvdecode", &[s("")]), "csvdecode: missing header line");
        assert_eq!(err("csvdecode", &[s("\n\n")]), "csvdecode: missing header line");
        assert_eq!(
            err("csvdecode", &[s("a,b,c\n1,2\n")]),
            "csvdecode: CSV parse error on line 2: wrong number of fields"
        );
        assert_eq!(
            err("csvdecode", &[s("a,b\n\n1,2,3\n")]),
            "csvdecode: CSV parse error on line 3: wrong number of fields"
        );
        assert_eq!(
            err("csvdecode", &[s("a,b\n1,x\"y\n")]),
            "csvdecode: CSV parse error on line 2: bare \" in non-quoted-field"
        );
        assert_eq!(
            err("csvdecode", &[s("a,b\n\"1\"x,2\n")]),
            "csvdecode: CSV parse error on line 2: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            err("csvdecode", &[s("a,b\n\"1,2\n3,4\n")]),
            "csvdecode: CSV parse error on line 3: extraneous or missing \" in quoted-field"
        );
        assert_eq!(err("csvdecode", &[s("a,a\n1,2")]), "csvdecode: duplicate column name \"a\"");
        assert_eq!(
            err("csvdecode", &[list([])]),
            "csvdecode: the CSV text must be a string, got list"
        );
    }
}
