//! What the sample images answer, by image: Istio's `helloworld` (`examples-helloworld-vN`, Flask
//! on gunicorn), `httpbin` (`/get`, `/headers`, `/status/CODE`, `/delay/N`), and any other image
//! (its pod's name). An answer may take time (`/delay/N`), which `curl --max-time` can cut short.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::http::{http_date, HttpRequest, HttpResponse};

/// The longest `/delay/N` httpbin accepts, in seconds.
const MAX_DELAY_SECS: f64 = 10.0;

/// What an application answers, and how long it takes before answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub response: HttpResponse,
    pub delay: Duration,
}

impl Answer {
    fn now(response: HttpResponse) -> Answer {
        Answer { response, delay: Duration::ZERO }
    }
}

/// The image of the pod's application container (the first that is not `istio-proxy`).
fn app_image(pod: &Value) -> &str {
    pod["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] != "istio-proxy"))
        .and_then(|c| c["image"].as_str())
        .unwrap_or("")
}

/// The pod's answer to a request it received.
pub fn answer(pod: &Value, request: &HttpRequest) -> Answer {
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let image = app_image(pod);
    let mut answer = if let Some(rest) = image.split("examples-helloworld-").nth(1) {
        let version = rest.split([':', '@', '/']).next().unwrap_or("v1");
        Answer::now(helloworld(version, name, request))
    } else if image.contains("httpbin") {
        httpbin(request)
    } else {
        Answer::now(HttpResponse::new(200, "text/plain", format!("{name}\n")))
    };
    answer.response.set_header("Server", "gunicorn");
    answer.response.set_header("Date", http_date(SystemTime::now()));
    if request.method == "HEAD" {
        answer.response.body.clear();
    }
    answer
}

fn html_error(status: u16, title: &str, text: &str) -> HttpResponse {
    HttpResponse::new(
        status,
        "text/html; charset=utf-8",
        format!("<!doctype html>\n<title>{status} {title}</title>\n<h1>{title}</h1>\n{text}"),
    )
}

fn not_found() -> HttpResponse {
    html_error(404, "Not Found", "")
}

/// Istio's `samples/helloworld` (`app.py`): `GET /hello` and `GET /health`.
fn helloworld(version: &str, instance: &str, request: &HttpRequest) -> HttpResponse {
    let path = request.path.split('?').next().unwrap_or("");
    let body = match path {
        "/hello" => format!("Hello version: {version}, instance: {instance}\n"),
        "/health" => "Healthy\n".to_owned(),
        _ => return not_found(),
    };
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return html_error(
            405,
            "Method Not Allowed",
            "<p>The method is not allowed for the requested URL.</p>\n",
        );
    }
    HttpResponse::new(200, "text/html; charset=utf-8", body)
}

/// The request headers as httpbin shows them (names in title case, sorted).
fn headers_json(request: &HttpRequest) -> Value {
    let title = |k: &str| {
        k.split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect())
                    .unwrap_or_default()
            })
            .collect::<Vec<String>>()
            .join("-")
    };
    Value::Object(
        request.headers.iter().map(|(k, v)| (title(k), Value::String(v.clone()))).collect(),
    )
}

fn json(status: u16, v: &Value) -> HttpResponse {
    let body = serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    HttpResponse::new(status, "application/json", body)
}

/// `httpbin` (Istio's `samples/httpbin`): `/get`, `/headers`, `/status/CODE`, `/delay/N`.
fn httpbin(request: &HttpRequest) -> Answer {
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let host = request.header("host").unwrap_or("");
    let get = || {
        let args: serde_json::Map<String, Value> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        json(
            200,
            &serde_json::json!({
                "args": args,
                "headers": headers_json(request),
                "url": format!("http://{host}{}", request.path),
            }),
        )
    };
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    match (segments.next().unwrap_or(""), segments.next()) {
        ("get", None) => Answer::now(get()),
        ("headers", None) => {
            Answer::now(json(200, &serde_json::json!({ "headers": headers_json(request) })))
        }
        ("status", Some(code)) => match code.parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => {
                let body = if c == 418 { "\n    -=[ teapot ]=-\n" } else { "" };
                Answer::now(HttpResponse::new(c, "text/html; charset=utf-8", body))
            }
            _ => Answer::now(HttpResponse::new(400, "text/plain", "Invalid status code\n")),
        },
        ("delay", Some(n)) => match n.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs >= 0.0 => {
                Answer { response: get(), delay: Duration::from_secs_f64(secs.min(MAX_DELAY_SECS)) }
            }
            _ => Answer::now(HttpResponse::new(400, "text/plain", "Invalid delay\n")),
        },
        _ => Answer::now(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(image: &str) -> Value {
        json!({"metadata": {"name": "p-1"}, "spec": {"containers": [{"name": "app", "image": image}]}})
    }

    fn get(path: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            path: path.into(),
            headers: vec![("Host".into(), "svc:8000".into()), ("x-custom".into(), "1".into())],
            body: String::new(),
        }
    }

    #[test]
    fn helloworld_answers_its_routes() {
        let p = pod("registry/examples-helloworld-v2:1.0");
        let a = answer(&p, &get("/hello"));
        assert_eq!(a.response.status, 200);
        assert_eq!(a.response.body, "Hello version: v2, instance: p-1\n");
        assert_eq!(answer(&p, &get("/nope")).response.status, 404);
        let post = HttpRequest { method: "POST".into(), ..get("/hello") };
        assert_eq!(answer(&p, &post).response.status, 405);
        let head = HttpRequest { method: "HEAD".into(), ..get("/hello") };
        let h = answer(&p, &head).response;
        assert_eq!((h.status, h.body.as_str()), (200, ""));
        assert_eq!(h.header("content-length"), Some("33"), "the length of the GET body");
    }

    #[test]
    fn httpbin_echoes_headers_and_answers_status_and_delay() {
        let p = pod("docker.io/kong/httpbin:0.1.0");
        let headers: Value =
            serde_json::from_str(&answer(&p, &get("/headers")).response.body).expect("JSON");
        assert_eq!(headers["headers"]["X-Custom"], "1");
        assert_eq!(headers["headers"]["Host"], "svc:8000");
        assert_eq!(answer(&p, &get("/status/503")).response.status, 503);
        assert_eq!(answer(&p, &get("/status/x")).response.status, 400);
        let slow = answer(&p, &get("/delay/2"));
        assert_eq!((slow.response.status, slow.delay), (200, Duration::from_secs(2)));
        assert_eq!(answer(&p, &get("/delay/99")).delay, Duration::from_secs(10));
        let args: Value =
            serde_json::from_str(&answer(&p, &get("/get?a=1")).response.body).expect("JSON");
        assert_eq!(args["args"]["a"], "1");
    }
}
