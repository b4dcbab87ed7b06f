//! Falco over HTTP through the real binary: `collect --source falco --listen` receives what
//! falcosidekick's webhook and Falco's `http_output` POST over loopback (keep-alive,
//! Content-Length, chunked, `Expect: 100-continue`, several alerts per body); malformed
//! bodies get 400 and are counted; SIGTERM seals and anchors; verify is OK.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::*;

fn fixture_lines() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/falco_events.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// falcosidekick adds a `uuid` to Falco's payload before posting it.
fn as_falcosidekick(line: &str, i: usize) -> String {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["uuid"] = format!("5b7e3c1a-0000-4000-8000-{i:012}").into();
    v.to_string()
}

/// One HTTP/1.1 exchange on a kept-alive connection: (status, body).
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            reader: BufReader::new(sock),
        }
    }

    fn send(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).unwrap();
    }

    fn response(&mut self) -> (u16, String) {
        let mut status = String::new();
        self.reader.read_line(&mut status).unwrap();
        let code: u16 = status
            .split(' ')
            .nth(1)
            .unwrap_or_else(|| panic!("bad status line {status:?}"))
            .parse()
            .unwrap();
        let mut len = 0;
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    len = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        (code, String::from_utf8(body).unwrap())
    }

    /// A POST the way falcosidekick's webhook output sends it (Go's net/http client).
    fn post(&mut self, body: &str) -> (u16, String) {
        self.send(
            format!(
                "POST / HTTP/1.1\r\nHost: conanchor:2801\r\nUser-Agent: Falcosidekick\r\n\
                 Content-Length: {}\r\nContent-Type: application/json; charset=utf-8\r\n\
                 Accept-Encoding: gzip\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        self.response()
    }
}

#[test]
fn falcosidekick_and_http_output_posts_are_anchored_and_malformed_bodies_get_400() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let collector = Background::spawn(&[
        "collect",
        "--source",
        "falco",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
        "--batch-size",
        "3",
        "--batch-interval",
        "200ms",
        "--quiet",
        "--workflow-log",
    ]);
    let line = collector.wait_for_line("listening on http://", Duration::from_secs(20));
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let lines = fixture_lines();
    let mut expected: Vec<String> = Vec::new();

    // falcosidekick: one alert per POST, one kept-alive connection
    let mut c = Client::connect(&addr);
    for (i, l) in lines[..4].iter().enumerate() {
        let body = as_falcosidekick(l, i);
        assert_eq!(c.post(&body), (200, r#"{"accepted":1}"#.to_string()));
        expected.push(body);
    }
    // malformed bodies: 400, counted, the connection stays usable
    let (code, reply) = c.post("{\"rule\": \"half an alert\"");
    assert_eq!(code, 400, "{reply}");
    assert!(reply.contains("not a Falco JSON alert"), "{reply}");
    let (code, reply) =
        c.post(r#"{"output":"no rule","priority":"Warning","time":"2024-03-09T16:00:00Z"}"#);
    assert_eq!(code, 400, "{reply}");
    assert!(reply.contains("no \\\"rule\\\""), "{reply}");
    // a body with a bad second line is refused as a whole (a retry never duplicates)
    let (code, reply) = c.post(&format!("{}\n{{oops\n", lines[4]));
    assert_eq!(code, 400, "{reply}");
    assert!(reply.contains("line 2"), "{reply}");
    // newline-delimited alerts in one body
    let two = format!("{}\n{}\n", lines[4], lines[5]);
    assert_eq!(c.post(&two), (200, r#"{"accepted":2}"#.to_string()));
    expected.extend([lines[4].clone(), lines[5].clone()]);
    // compressed uploads are refused as such (400, counted), not misread
    let gz = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n{}",
        lines[6].len(),
        lines[6]
    );
    c.send(gz.as_bytes());
    let (code, reply) = c.response();
    assert_eq!(code, 400, "{reply}");
    assert!(reply.contains("compress_uploads"), "{reply}");
    // a GET is not an alert
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response().0, 405);

    // Falco's http_output (libcurl): Expect: 100-continue, then the body
    let mut c2 = Client::connect(&addr);
    let body = &lines[6];
    c2.send(
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nContent-Type: application/json\r\n\
             User-Agent: falcosecurity/falco\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let mut cont = String::new();
    c2.reader.read_line(&mut cont).unwrap();
    assert_eq!(cont, "HTTP/1.1 100 Continue\r\n");
    let mut blank = String::new();
    c2.reader.read_line(&mut blank).unwrap();
    c2.send(body.as_bytes());
    assert_eq!(c2.response().0, 200);
    expected.push(body.clone());

    // chunked transfer encoding, split at odd places, on a fresh connection
    let mut c3 = Client::connect(&addr);
    let body = as_falcosidekick(&lines[7], 7);
    let (a, b) = body.split_at(37);
    c3.send(
        format!(
            "POST /falco HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
        .as_bytes(),
    );
    assert_eq!(c3.response(), (200, r#"{"accepted":1}"#.to_string()));
    expected.push(body);

    wait_for_events(dir, expected.len() as i64, Duration::from_secs(20));
    drop((c, c2, c3));
    let (code, stderr) = collector.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("ingested 8, rejected 4 (first: request 5: not a Falco JSON alert"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[workflow] rejected request 6: no \"rule\""),
        "{stderr}"
    );

    // every accepted record verbatim, in order, anchored; verify OK
    let stored: Vec<String> = stored_events(dir).into_iter().map(|e| e.extra).collect();
    assert_eq!(stored, expected);
    let pending: i64 = db(dir)
        .query_row("SELECT count(*) FROM anchor_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pending, 0);
    let (code, report) = verify_json(dir, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verified_events"], 8);
}

#[test]
fn listen_on_a_taken_port_is_a_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&[
        "collect",
        "--source",
        "falco",
        "--listen",
        &addr,
        "--data-dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot listen on"), "{}", r.stderr);
    let r = run(&["collect", "--source", "falco", "--listen", "nowhere"]);
    assert_eq!((r.code, r.stderr.lines().count()), (2, 1), "{}", r.stderr);
}
