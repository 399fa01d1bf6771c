//! The `curl` of the sample `curl` image (curl 8.1.2) as drills use it: its options, the request it
//! sends, and what it prints and exits with — `-s`/`-S`, `-o FILE`, `-w FORMAT`, `-f`/`--fail`,
//! `--fail-with-body`, `-m`/`--max-time`, `--connect-timeout`, `-H`, `-v`, `-i`, `-I`, `-X`, `-d`,
//! `-L` and `-k` (accepted: nothing redirects, nothing is HTTPS). The transfer itself is the data
//! plane's ([`super::DataPlane::curl`]); exit codes are curl's (2 usage, 6 resolve, 7 connect, 22
//! `--fail`, 28 timeout).

use std::time::Duration;

use crate::kube::ExecOutput;

use super::http::{HttpRequest, HttpResponse};

/// The version the sample image ships (`registry.cn-hangzhou.aliyuncs.com/acs/curl:8.1.2`).
pub const VERSION: &str = "8.1.2";

const TRY_HELP: &str = "curl: try 'curl --help' or 'curl --manual' for more information\n";

/// What `--fail` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fail {
    #[default]
    No,
    /// `-f`: exit 22 on a status of 400 or more, without printing the body.
    Quiet,
    /// `--fail-with-body`: exit 22, body printed.
    WithBody,
}

/// The options of one `curl` command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CurlOptions {
    pub url: Option<String>,
    pub silent: bool,
    pub show_error: bool,
    pub fail: Fail,
    pub include: bool,
    pub head: bool,
    pub verbose: bool,
    /// `-o`: `-` is stdout; any file discards the body (containers have no writable files).
    pub output: Option<String>,
    pub write_out: Option<String>,
    pub max_time: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    /// `-H` lines, in order.
    pub headers: Vec<String>,
    pub method: Option<String>,
    pub data: Option<String>,
}

/// A failed command line: curl's message and exit code 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    pub fn output(&self) -> ExecOutput {
        ExecOutput::fail(2, format!("curl: {}\n{TRY_HELP}", self.0))
    }
}

fn seconds(option: &str, v: &str) -> Result<Duration, UsageError> {
    v.parse::<f64>().ok().and_then(|s| Duration::try_from_secs_f64(s).ok()).ok_or_else(|| {
        UsageError(format!("option {option}: expected a proper numerical parameter"))
    })
}

/// Short options that take an argument, with their long names.
fn long_name(short: char) -> Option<&'static str> {
    Some(match short {
        'o' => "--output",
        'w' => "--write-out",
        'm' => "--max-time",
        'H' => "--header",
        'X' => "--request",
        'd' => "--data",
        _ => return None,
    })
}

/// Parses a command line (without `curl` itself).
pub fn parse(args: &[String]) -> Result<CurlOptions, UsageError> {
    let mut o = CurlOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let name = format!("--{long}");
            match name.as_str() {
                "--silent" => o.silent = true,
                "--show-error" => o.show_error = true,
                "--fail" => o.fail = Fail::Quiet,
                "--fail-with-body" => o.fail = Fail::WithBody,
                "--include" => o.include = true,
                "--head" => o.head = true,
                "--verbose" => o.verbose = true,
                "--location" | "--insecure" => {}
                "--output" | "--write-out" | "--max-time" | "--connect-timeout" | "--header"
                | "--request" | "--data" | "--data-raw" => {
                    let Some(v) = args.get(i) else {
                        return Err(UsageError(format!("option {name}: requires parameter")));
                    };
                    i += 1;
                    set(if name == "--data-raw" { "--data" } else { &name }, &mut o, v)?;
                }
                "--url" => {
                    let Some(v) = args.get(i) else {
                        return Err(UsageError(format!("option {name}: requires parameter")));
                    };
                    i += 1;
                    o.url.get_or_insert_with(|| v.clone());
                }
                _ => return Err(unknown(&name)),
            }
            continue;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            o.url.get_or_insert_with(|| arg.to_owned());
            continue;
        };
        for (pos, c) in flags.char_indices() {
            match c {
                's' => o.silent = true,
                'S' => o.show_error = true,
                'f' => o.fail = Fail::Quiet,
                'i' => o.include = true,
                'I' => o.head = true,
                'v' => o.verbose = true,
                'L' | 'k' => {}
                _ => {
                    let Some(name) = long_name(c) else { return Err(unknown(&format!("-{c}"))) };
                    let rest = &flags[pos + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        let Some(v) = args.get(i) else {
                            return Err(UsageError(format!("option -{c}: requires parameter")));
                        };
                        i += 1;
                        v.as_str()
                    } else {
                        rest
                    };
                    set(name, &mut o, value)?;
                    break;
                }
            }
        }
    }
    if o.url.is_none() {
        return Err(UsageError("no URL specified!".into()));
    }
    Ok(o)
}

/// Sets the value of an option that takes one (by its long name).
fn set(name: &str, o: &mut CurlOptions, value: &str) -> Result<(), UsageError> {
    match name {
        "--output" => o.output = Some(value.to_owned()),
        "--write-out" => o.write_out = Some(value.to_owned()),
        "--max-time" => o.max_time = Some(seconds("--max-time", value)?),
        "--connect-timeout" => o.connect_timeout = Some(seconds("--connect-timeout", value)?),
        "--header" => o.headers.push(value.to_owned()),
        "--request" => o.method = Some(value.to_owned()),
        _ => o.data = Some(value.to_owned()),
    }
    Ok(())
}

fn unknown(option: &str) -> UsageError {
    UsageError(format!(
        "option {option}: is unknown (the sandbox's curl knows -s -S -f --fail-with-body -o -w -m/--max-time --connect-timeout -H -v -i -I -X -d -L -k)"
    ))
}

/// Where a URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host as written (`helloworld`, `helloworld.default.svc.cluster.local`).
    pub host: String,
    pub port: u16,
    /// The path and query (`/hello`).
    pub path: String,
    /// `http://host:port/path`, as `%{url_effective}` shows it.
    pub effective: String,
}

/// A failure of the transfer, as curl reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurlFailure {
    pub code: i32,
    pub message: String,
}

impl CurlFailure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CurlFailure { code, message: message.into() }
    }
}

/// Splits a URL; only `http://` (or no scheme) is served.
pub fn target(url: &str) -> Result<Target, CurlFailure> {
    let rest = match url.split_once("://") {
        None => url,
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
            return Err(CurlFailure::new(
                35,
                "OpenSSL/3.1.0: error:0A00010B:SSL routines::wrong version number (the services speak plain HTTP to the sidecar; use http://)",
            ))
        }
        Some((scheme, _)) => {
            return Err(CurlFailure::new(1, format!("Protocol \"{scheme}\" not supported")))
        }
    };
    let (hostport, path) = match rest.find(['/', '?']) {
        Some(p) if rest[p..].starts_with('?') => (&rest[..p], format!("/{}", &rest[p..])),
        Some(p) => (&rest[..p], rest[p..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(port) => (h, port),
            Err(_) => {
                return Err(CurlFailure::new(
                    3,
                    "URL rejected: Port number was not a decimal number between 0 and 65535",
                ))
            }
        },
        None => (hostport, 80),
    };
    if host.is_empty() {
        return Err(CurlFailure::new(3, "URL rejected: No host part in the URL"));
    }
    let shown_port = if port == 80 { String::new() } else { format!(":{port}") };
    Ok(Target {
        host: host.to_owned(),
        port,
        effective: format!("http://{host}{shown_port}{path}"),
        path,
    })
}

/// The request curl sends for these options (`-X`, `-d`, `-I`, `-H`).
pub fn request(o: &CurlOptions, t: &Target) -> HttpRequest {
    let method = o.method.clone().unwrap_or_else(|| {
        if o.head {
            "HEAD".into()
        } else if o.data.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    let host = if t.port == 80 { t.host.clone() } else { format!("{}:{}", t.host, t.port) };
    let mut headers = vec![
        ("Host".to_owned(), host),
        ("User-Agent".to_owned(), format!("curl/{VERSION}")),
        ("Accept".to_owned(), "*/*".to_owned()),
    ];
    let body = o.data.clone().unwrap_or_default();
    if o.data.is_some() {
        headers.push(("Content-Length".into(), body.len().to_string()));
        headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
    }
    for line in &o.headers {
        // `Name: value` sets (replacing curl's own), `Name:` removes; anything else is ignored,
        // as curl does.
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            continue;
        }
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if !value.is_empty() {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    HttpRequest { method, path: t.path.clone(), headers, body }
}

/// What a transfer came to.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// The URL as written and where it pointed, when it could be parsed.
    pub target: Option<Target>,
    /// What was sent, if anything was.
    pub request: Option<HttpRequest>,
    /// The address curl connected to (the Service's cluster IP), for `-v`.
    pub remote_ip: Option<String>,
    pub outcome: Result<HttpResponse, CurlFailure>,
    pub elapsed: Duration,
}

/// What curl prints and exits with for a transfer.
pub fn render(o: &CurlOptions, t: &Transfer) -> ExecOutput {
    let mut out = ExecOutput::default();
    let mut err = String::new();
    let mut stdout = String::new();
    if o.verbose {
        verbose_request(t, &mut err);
    }
    let failure = match &t.outcome {
        Err(f) => Some(f.clone()),
        Ok(resp) => {
            if o.verbose {
                err.push_str(&format!("< {}\n", resp.status_line()));
                for (k, v) in &resp.headers {
                    err.push_str(&format!("< {k}: {v}\n"));
                }
                err.push_str("< \n");
            }
            let failed = o.fail != Fail::No && resp.status >= 400;
            let mut shown = String::new();
            if o.include || o.head {
                shown.push_str(&resp.head());
            }
            if !o.head && (!failed || o.fail == Fail::WithBody) {
                shown.push_str(&resp.body);
            }
            if !(failed && o.fail == Fail::Quiet) {
                match o.output.as_deref() {
                    None | Some("-") => stdout.push_str(&shown),
                    // A file: the containers have no writable files, so the body is discarded
                    // (as the shell's `> FILE` does); `/dev/null` is the common case.
                    Some(_) => {}
                }
            }
            failed.then(|| {
                CurlFailure::new(22, format!("The requested URL returned error: {}", resp.status))
            })
        }
    };
    let code = failure.as_ref().map_or(0, |f| f.code);
    if let Some(f) = &failure {
        if o.verbose {
            err.push_str(&format!("* {}\n* Closing connection 0\n", f.message));
        }
        if !o.silent || o.show_error {
            err.push_str(&format!("curl: ({}) {}\n", f.code, f.message));
        }
    } else if o.verbose {
        let host = t.target.as_ref().map_or("", |t| t.host.as_str());
        err.push_str(&format!("* Connection #0 to host {host} left intact\n"));
    }
    if let Some(format) = &o.write_out {
        write_out(format, t, code, failure.as_ref(), &mut stdout, &mut err);
    }
    out.stdout = stdout.into_bytes();
    out.stderr = err.into_bytes();
    out.exit_code = code;
    out
}

fn verbose_request(t: &Transfer, err: &mut String) {
    let (Some(target), Some(req)) = (&t.target, &t.request) else { return };
    let shown = t.remote_ip.as_deref().unwrap_or(&target.host);
    err.push_str(&format!("*   Trying {shown}:{}...\n", target.port));
    if matches!(&t.outcome, Err(f) if f.code == 7) {
        return;
    }
    err.push_str(&format!(
        "* Connected to {} ({shown}) port {} (#0)\n> {}\n",
        target.host,
        target.port,
        req.request_line()
    ));
    for (k, v) in &req.headers {
        err.push_str(&format!("> {k}: {v}\n"));
    }
    err.push_str("> \n");
}

/// `-w FORMAT`: `%{variable}`, `%%`, and the escapes `\n`, `\r`, `\t`, `\\`.
fn write_out(
    format: &str,
    t: &Transfer,
    exit: i32,
    failure: Option<&CurlFailure>,
    stdout: &mut String,
    stderr: &mut String,
) {
    let response = t.outcome.as_ref().ok();
    let mut to_stderr = false;
    let mut text = String::new();
    let mut chars = format.chars().peekable();
    let flush = |text: &mut String, to_stderr: bool, stdout: &mut String, stderr: &mut String| {
        let s = std::mem::take(text);
        if to_stderr {
            stderr.push_str(&s);
        } else {
            stdout.push_str(&s);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('n') => text.push('\n'),
                Some('r') => text.push('\r'),
                Some('t') => text.push('\t'),
                Some('\\') => text.push('\\'),
                _ => {
                    text.push('\\');
                    continue;
                }
            },
            '%' if chars.peek() == Some(&'%') => text.push('%'),
            '%' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let value = match name.as_str() {
                    "http_code" | "response_code" => {
                        format!("{:03}", response.map_or(0, |r| r.status))
                    }
                    "http_version" => response.map_or("0", |_| "1.1").to_owned(),
                    "time_total" => format!("{:.6}", t.elapsed.as_secs_f64()),
                    "size_download" => response.map_or(0, |r| r.body.len()).to_string(),
                    "size_header" => response.map_or(0, |r| r.head().len()).to_string(),
                    "num_headers" => response.map_or(0, |r| r.headers.len()).to_string(),
                    "content_type" => {
                        response.and_then(|r| r.header("content-type")).unwrap_or("").to_owned()
                    }
                    "method" => t.request.as_ref().map_or("", |r| r.method.as_str()).to_owned(),
                    "url" | "url_effective" => {
                        t.target.as_ref().map_or("", |t| t.effective.as_str()).to_owned()
                    }
                    "remote_ip" => t.remote_ip.clone().unwrap_or_default(),
                    "remote_port" => t
                        .target
                        .as_ref()
                        .filter(|_| t.remote_ip.is_some())
                        .map_or(String::new(), |t| t.port.to_string()),
                    "exitcode" => exit.to_string(),
                    "errormsg" => failure.map_or("", |f| f.message.as_str()).to_owned(),
                    "stdout" | "stderr" => {
                        flush(&mut text, to_stderr, stdout, stderr);
                        to_stderr = name == "stderr";
                        continue;
                    }
                    _ => {
                        stderr.push_str(&format!("curl: unknown --write-out variable: '{name}'\n"));
                        continue;
                    }
                };
                text.push_str(&value);
                continue;
            }
            _ => {
                text.push(c);
                continue;
            }
        }
        chars.next();
    }
    flush(&mut text, to_stderr, stdout, stderr);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn options_combine_and_take_arguments_attached_or_apart() {
        let o = parse(&args(&["-sSo", "/dev/null", "-w%{http_code}", "-m", "2.5", "x:5000/a"]))
            .expect("parsed");
        assert!(o.silent && o.show_error);
        assert_eq!(o.output.as_deref(), Some("/dev/null"));
        assert_eq!(o.write_out.as_deref(), Some("%{http_code}"));
        assert_eq!(o.max_time, Some(Duration::from_millis(2500)));
        assert_eq!(o.url.as_deref(), Some("x:5000/a"));
        let o = parse(&args(&["--fail", "-H", "A: b", "--header", "C: d", "u"])).expect("parsed");
        assert_eq!((o.fail, o.headers.len()), (Fail::Quiet, 2));
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        let e = parse(&args(&["-s"])).expect_err("no URL");
        assert_eq!(e.output().exit_code, 2);
        assert_eq!(
            String::from_utf8_lossy(&e.output().stderr),
            format!("curl: no URL specified!\n{TRY_HELP}")
        );
        assert!(parse(&args(&["--retry", "3", "u"])).expect_err("unknown").0.contains("--retry"));
        assert!(parse(&args(&["u", "-o"])).expect_err("no file").0.contains("requires parameter"));
        let bad = parse(&args(&["--max-time", "soon", "u"])).expect_err("not a number");
        assert!(bad.0.contains("expected a proper numerical parameter"), "{bad:?}");
        for huge in ["1e30", "-1", "inf", "NaN"] {
            let e = parse(&args(&["-m", huge, "u"])).expect_err("out of range, not a panic");
            assert!(e.0.contains("expected a proper numerical parameter"), "{huge}: {e:?}");
        }
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = target("helloworld:5000/hello").expect("a target");
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("helloworld", 5000, "/hello"));
        assert_eq!(t.effective, "http://helloworld:5000/hello");
        assert_eq!(target("http://h").expect("a target").path, "/");
        assert_eq!(target("https://h/").expect_err("TLS").code, 35);
        assert_eq!(target("ftp://h/").expect_err("FTP").code, 1);
        assert_eq!(target("h:99999/").expect_err("port").code, 3);
    }

    #[test]
    fn headers_replace_and_remove_curls_own() {
        let o = parse(&args(&["-H", "User-Agent: drill", "-H", "Accept:", "-H", "X-A: 1", "u"]))
            .expect("parsed");
        let r = request(&o, &target("u").expect("a target"));
        assert_eq!(r.header("user-agent"), Some("drill"));
        assert_eq!(r.header("accept"), None);
        assert_eq!(r.header("x-a"), Some("1"));
        assert_eq!(r.header("host"), Some("u"));
    }

    #[test]
    fn write_out_expands_variables_and_escapes() {
        let t = Transfer {
            target: target("h:1/p").ok(),
            request: None,
            remote_ip: None,
            outcome: Ok(HttpResponse::new(503, "text/plain", "no")),
            elapsed: Duration::from_millis(1500),
        };
        let o = parse(&args(&["-w", "%{http_code} %{time_total}s %% %{nope}\\n", "h:1/p"]))
            .expect("parsed");
        let out = render(&o, &t);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "no503 1.500000s % \n");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "curl: unknown --write-out variable: 'nope'\n"
        );
    }
}
