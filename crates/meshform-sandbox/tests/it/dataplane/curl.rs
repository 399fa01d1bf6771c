//! The sample curl's flags, from cluster-2's `sleep` to `httpbin` (cluster-2 only, so every
//! answer comes from one pod): output, exit codes and stderr as curl 8.1.2 prints them.

use super::support::{Drill, Out};

fn out(stdout: &str, stderr: &str, code: i32) -> Out {
    Out { stdout: stdout.into(), stderr: stderr.into(), code }
}

#[tokio::test]
async fn curl_honours_the_flags_drills_use() {
    let drill = Drill::start().await;

    // -o /dev/null -w '%{http_code}': the code only, not the body.
    let code = drill.curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", "httpbin:8000/get"]);
    assert_eq!(code.await, out("200", "", 0));
    // Any file: the body is not printed (the containers have no writable files).
    let file = drill.curl(&["-so", "/tmp/body", "httpbin:8000/get"]).await;
    assert_eq!(file, out("", "", 0));
    // -o - is stdout.
    let dash = drill.curl(&["-s", "-o", "-", "httpbin:8000/status/418"]).await;
    assert_eq!(dash, out("\n    -=[ teapot ]=-\n", "", 0));

    // Without --fail an error status is a successful transfer.
    assert_eq!(drill.curl(&["-s", "httpbin:8000/status/503"]).await, out("", "", 0));
    // -f: exit 22 and no body; the message unless -s; -S shows it despite -s.
    let fail = "curl: (22) The requested URL returned error: 503\n";
    assert_eq!(drill.curl(&["-f", "httpbin:8000/status/503"]).await, out("", fail, 22));
    assert_eq!(drill.curl(&["--fail", "-s", "httpbin:8000/status/503"]).await, out("", "", 22));
    assert_eq!(drill.curl(&["-sSf", "httpbin:8000/status/503"]).await, out("", fail, 22));
    let with_body = drill.curl(&["-s", "--fail-with-body", "httpbin:8000/status/418"]).await;
    assert_eq!(with_body, out("\n    -=[ teapot ]=-\n", "", 22));
    assert_eq!(drill.curl(&["-sf", "httpbin:8000/status/204"]).await, out("", "", 0));
    // -w with -f: the code is still written, as curl does.
    let both = drill.curl(&["-sf", "-w", "%{http_code}\\n", "httpbin:8000/status/500"]).await;
    assert_eq!(both, out("500\n", "", 22));

    // --max-time: exit 28 when the answer takes longer.
    let slow = drill.curl(&["-s", "--max-time", "0.2", "httpbin:8000/delay/5"]).await;
    assert_eq!((slow.stdout.as_str(), slow.stderr.as_str(), slow.code), ("", "", 28));
    let slow = drill.curl(&["-m", "0.2", "-w", "%{http_code}", "httpbin:8000/delay/5"]).await;
    assert_eq!((slow.stdout.as_str(), slow.code), ("000", 28));
    assert!(slow.stderr.starts_with("curl: (28) Operation timed out after "), "{slow:?}");
    let in_time = drill.curl(&[
        "-s",
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "httpbin:8000/get",
    ]);
    assert_eq!(in_time.await, out("200", "", 0));

    // -H reaches the application, next to what the sidecars add (the client's SPIFFE identity
    // from the real mTLS hop).
    let headers =
        drill.curl(&["-s", "-H", "X-Drill: cluster-1-down", "httpbin:8000/headers"]).await;
    assert_eq!(headers.code, 0, "{headers:?}");
    let seen: serde_json::Value = serde_json::from_str(&headers.stdout).expect("httpbin's JSON");
    let seen = &seen["headers"];
    assert_eq!(seen["X-Drill"], "cluster-1-down");
    assert_eq!(seen["User-Agent"], "curl/8.1.2");
    assert_eq!(seen["Host"], "httpbin:8000");
    assert_eq!(seen["X-Envoy-Attempt-Count"], "1");
    let xfcc = seen["X-Forwarded-Client-Cert"].as_str().unwrap_or_default();
    assert!(xfcc.starts_with("By=spiffe://cluster.local/ns/default/sa/httpbin;Hash="), "{xfcc}");
    assert!(xfcc.ends_with(";URI=spiffe://cluster.local/ns/default/sa/sleep"), "{xfcc}");

    // -v: the request and response on stderr, the body on stdout.
    let verbose = drill.curl(&["-sv", "httpbin:8000/status/418"]).await;
    assert_eq!((verbose.stdout.as_str(), verbose.code), ("\n    -=[ teapot ]=-\n", 0));
    for line in [
        "> GET /status/418 HTTP/1.1\n",
        "> Host: httpbin:8000\n",
        "> User-Agent: curl/8.1.2\n",
        "> Accept: */*\n",
        "< HTTP/1.1 418 I'm a Teapot\n",
        "< server: envoy\n",
        "* Connection #0 to host httpbin left intact\n",
    ] {
        assert!(verbose.stderr.contains(line), "{line:?} in {}", verbose.stderr);
    }
    // -i: the response head before the body.
    let include = drill.curl(&["-si", "httpbin:8000/status/418"]).await;
    assert!(include.stdout.starts_with("HTTP/1.1 418 I'm a Teapot\r\n"), "{include:?}");
    assert!(include.stdout.ends_with("\r\n\r\n\n    -=[ teapot ]=-\n"), "{include:?}");

    // -w variables: time_total, size_download, url_effective, method.
    let w = "%{time_total} %{size_download} %{url_effective} %{method} %{exitcode}";
    let vars = drill.curl(&["-s", "-o", "/dev/null", "-w", w, "httpbin:8000/status/418"]).await;
    let fields: Vec<&str> = vars.stdout.split(' ').collect();
    assert!(fields[0].parse::<f64>().is_ok_and(|t| t >= 0.0), "{vars:?}");
    assert_eq!(fields[1..], ["20", "http://httpbin:8000/status/418", "GET", "0"]);
}

#[tokio::test]
async fn curl_fails_like_curl_on_bad_input() {
    let drill = Drill::start().await;
    let help = "curl: try 'curl --help' or 'curl --manual' for more information\n";
    assert_eq!(drill.curl(&["-s"]).await, out("", &format!("curl: no URL specified!\n{help}"), 2));
    let unknown = drill.curl(&["--retry", "3", "httpbin:8000/get"]).await;
    assert_eq!((unknown.code, unknown.stdout.as_str()), (2, ""));
    assert!(unknown.stderr.starts_with("curl: option --retry: is unknown"), "{unknown:?}");
    let missing = drill.curl(&["httpbin:8000/get", "-w"]).await;
    assert_eq!(missing, out("", &format!("curl: option -w: requires parameter\n{help}"), 2));
    let resolve = drill.curl(&["-w", "%{http_code}", "nosuch:80/"]).await;
    assert_eq!(resolve, out("000", "curl: (6) Could not resolve host: nosuch\n", 6));
    assert_eq!(drill.curl(&["-s", "nosuch:80/"]).await, out("", "", 6));
    // In a shell loop, as drills count codes.
    let script = "for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code}\\n' httpbin:8000/status/503; done";
    let looped = drill.sleep_2(&["sh", "-c", script]).await;
    assert_eq!(looped, out("503\n503\n503\n", "", 0));
}
