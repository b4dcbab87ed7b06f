//! A minimal HTTP/1.1 endpoint for Falco's `http_output` and falcosidekick's webhook: each
//! POST carries one JSON alert (or several, one per line). 200 = every record stored; 400 =
//! the body was malformed and nothing of it was stored (so a retry never duplicates); 413 =
//! body over 1 MiB; 411 = neither Content-Length nor chunked.
//!
//! Hand-written on tokio's `TcpListener` to keep the build lean: request line, headers,
//! Content-Length or chunked body, `Expect: 100-continue`, keep-alive (HTTP/1.1 default).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use conanchor_store::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::pipeline::SourceMsg;
use crate::sources::ingest::{parse_record, Format, IngestCounts};

pub const MAX_BODY: usize = 1 << 20;
const MAX_HEAD: usize = 16 << 10;
/// A connection silent this long (idle keep-alive, or a stalled request) is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

struct Ctx {
    format: Format,
    tx: mpsc::Sender<SourceMsg>,
    counts: Arc<IngestCounts>,
    workflow_log: bool,
    requests: AtomicU64,
}

pub struct Server {
    listener: TcpListener,
    ctx: Arc<Ctx>,
}

impl Server {
    /// Serves on a socket bound beforehand (see [`bind_std`]).
    pub fn new(
        listener: &std::net::TcpListener,
        format: Format,
        tx: mpsc::Sender<SourceMsg>,
        counts: Arc<IngestCounts>,
        workflow_log: bool,
    ) -> Result<Server> {
        let listener = listener
            .try_clone()
            .context("sharing the listening socket")?;
        listener
            .set_nonblocking(true)
            .context("setting the listening socket non-blocking")?;
        let listener = TcpListener::from_std(listener).context("serving the listening socket")?;
        Ok(Server {
            listener,
            ctx: Arc::new(Ctx {
                format,
                tx,
                counts,
                workflow_log,
                requests: AtomicU64::new(0),
            }),
        })
    }

    pub fn local_addr(&self) -> String {
        self.listener
            .local_addr()
            .map_or_else(|_| "?".into(), |a| a.to_string())
    }

    /// Serves until `stop` completes; requests in progress get 2 s to finish.
    pub async fn run_until(self, stop: impl Future<Output = Result<()>>) -> Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut conns = JoinSet::new();
        tokio::pin!(stop);
        let stopped = loop {
            tokio::select! {
                r = &mut stop => break r,
                accepted = self.listener.accept() => match accepted {
                    Ok((sock, _)) => {
                        conns.spawn(connection(sock, self.ctx.clone(), stop_rx.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        };
        let _ = stop_tx.send(true);
        drop(self.listener);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        conns.abort_all();
        stopped
    }
}

/// Binds the listening socket (before anything else starts, so a taken port is a clean
/// error).
pub fn bind_std(addr: SocketAddr) -> Result<std::net::TcpListener> {
    std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr}: pick a free port or another address"))
}

struct Request {
    method: String,
    content_length: Option<usize>,
    chunked: bool,
    expect_continue: bool,
    keep_alive: bool,
    /// A `Content-Encoding` other than identity (e.g. Falco's `compress_uploads: true`).
    encoded: Option<String>,
}

fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let method = parts.next()?.to_string();
    let _target = parts.next()?;
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut req = Request {
        method,
        content_length: None,
        chunked: false,
        expect_continue: false,
        keep_alive: version != "HTTP/1.0",
        encoded: None,
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => req.content_length = Some(value.parse().ok()?),
            "transfer-encoding" => req.chunked = !value.eq_ignore_ascii_case("identity"),
            "expect" => req.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            "content-encoding" if !value.eq_ignore_ascii_case("identity") => {
                req.encoded = Some(value.to_string());
            }
            "connection" if value.eq_ignore_ascii_case("close") => req.keep_alive = false,
            "connection" if value.eq_ignore_ascii_case("keep-alive") => req.keep_alive = true,
            _ => {}
        }
    }
    Some(req)
}

async fn respond(sock: &mut TcpStream, status: &str, body: &str, close: bool) -> bool {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    );
    sock.write_all(msg.as_bytes()).await.is_ok() && !close
}

fn error_json(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

/// Reads more bytes into `buf`; false on EOF, error, stop, or [`IDLE_TIMEOUT`] of silence.
async fn fill(sock: &mut TcpStream, buf: &mut Vec<u8>, stop: &mut watch::Receiver<bool>) -> bool {
    let mut tmp = [0u8; 16 << 10];
    tokio::select! {
        r = sock.read(&mut tmp) => match r {
            Ok(0) | Err(_) => false,
            Ok(n) => { buf.extend_from_slice(&tmp[..n]); true }
        },
        _ = stop.changed() => false,
        _ = tokio::time::sleep(IDLE_TIMEOUT) => false,
    }
}

async fn connection(mut sock: TcpStream, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 << 10);
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                respond(
                    &mut sock,
                    "431 Request Header Fields Too Large",
                    &error_json("headers over 16 KiB"),
                    true,
                )
                .await;
                return;
            }
            if !fill(&mut sock, &mut buf, &mut stop).await {
                return;
            }
        };
        let Some(req) = std::str::from_utf8(&buf[..head_end - 4])
            .ok()
            .and_then(parse_head)
        else {
            respond(
                &mut sock,
                "400 Bad Request",
                &error_json("malformed HTTP request"),
                true,
            )
            .await;
            return;
        };
        let len = req.content_length.unwrap_or(0);
        if len > MAX_BODY {
            respond(
                &mut sock,
                "413 Payload Too Large",
                &error_json("body over 1 MiB: send one alert per request"),
                true,
            )
            .await;
            return;
        }
        if req.method != "POST" {
            let close = !respond(
                &mut sock,
                "405 Method Not Allowed",
                &error_json("POST JSON alerts here"),
                len > 0 || req.chunked || !req.keep_alive,
            )
            .await;
            if close {
                return;
            }
            buf.drain(..head_end);
            continue;
        }
        if req.content_length.is_none() && !req.chunked {
            respond(
                &mut sock,
                "411 Length Required",
                &error_json("Content-Length or chunked transfer encoding is required"),
                true,
            )
            .await;
            return;
        }
        buf.drain(..head_end);
        if req.expect_continue
            && (req.chunked || buf.len() < len)
            && sock
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        let body: Vec<u8> = if req.chunked {
            match read_chunked(&mut sock, &mut buf, &mut stop).await {
                Ok(body) => body,
                Err(Some(reason)) => {
                    respond(&mut sock, "400 Bad Request", &error_json(reason), true).await;
                    return;
                }
                Err(None) => return,
            }
        } else {
            while buf.len() < len {
                if !fill(&mut sock, &mut buf, &mut stop).await {
                    return;
                }
            }
            buf.drain(..len).collect()
        };
        let k = ctx.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let parsed = match &req.encoded {
            Some(enc) => Err(format!(
                "Content-Encoding {enc} is not accepted: send plain JSON (Falco: http_output.compress_uploads: false)"
            )),
            None => parse_body(ctx.format, &body),
        };
        let (status, reply) = match parsed {
            Ok(events) => {
                let n = events.len();
                for ev in events {
                    if ctx.tx.send(SourceMsg::Event(Box::new(ev))).await.is_err() {
                        respond(
                            &mut sock,
                            "503 Service Unavailable",
                            &error_json("collector is stopping"),
                            true,
                        )
                        .await;
                        return;
                    }
                }
                ctx.counts.add_ingested(n as u64);
                ("200 OK", serde_json::json!({ "accepted": n }).to_string())
            }
            Err(reason) => {
                ctx.counts
                    .reject(&format!("request {k}"), &reason, ctx.workflow_log);
                ("400 Bad Request", error_json(&reason))
            }
        };
        if !respond(&mut sock, status, &reply, !req.keep_alive).await {
            return;
        }
    }
}

/// Decodes a chunked body from `buf` (which holds what follows the head) and the socket;
/// the bytes after it stay in `buf`. `Err(Some(why))`: malformed or too large (answer 400
/// and close); `Err(None)`: the peer went away.
async fn read_chunked(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Vec<u8>, Option<&'static str>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(sock, buf, stop).await?;
        let size = std::str::from_utf8(&line)
            .ok()
            .map(|l| l.split(';').next().unwrap_or_default().trim())
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or(Some("malformed chunk size"))?;
        if size == 0 {
            // trailers, up to the empty line
            while !read_line(sock, buf, stop).await?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(Some("body over 1 MiB: send one alert per request"));
        }
        while buf.len() < size + 2 {
            if !fill(sock, buf, stop).await {
                return Err(None);
            }
        }
        if &buf[size..size + 2] != b"\r\n" {
            return Err(Some("chunk not followed by CRLF"));
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// One CRLF-terminated line (without the CRLF) taken from the front of `buf`.
async fn read_line(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Vec<u8>, Option<&'static str>> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = buf[..i].to_vec();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD {
            return Err(Some("chunk header line too long"));
        }
        if !fill(sock, buf, stop).await {
            return Err(None);
        }
    }
}

/// Every record of a body, or why the body is rejected as a whole. One record per line; a
/// single pretty-printed JSON object (spanning lines) is accepted too.
pub fn parse_body(format: Format, body: &[u8]) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    let mut per_line = Ok(());
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        match parse_record(format, line) {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => {}
            Err(reason) => {
                per_line = Err(format!("line {}: {reason}", i + 1));
                break;
            }
        }
    }
    match per_line {
        Ok(()) if events.is_empty() => Err("empty body".into()),
        Ok(()) => Ok(events),
        Err(reason) => match parse_record(format, body.trim_ascii()) {
            Ok(Some(ev)) => Ok(vec![ev]),
            _ if body.iter().filter(|&&b| b == b'\n').count() <= 1 => {
                Err(reason.trim_start_matches("line 1: ").to_string())
            }
            _ => Err(reason),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let r =
            parse_head("POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\nExpect: 100-continue")
                .unwrap();
        assert_eq!(
            (
                r.method.as_str(),
                r.content_length,
                r.expect_continue,
                r.keep_alive
            ),
            ("POST", Some(12), true, true)
        );
        let r = parse_head("POST / HTTP/1.0\r\nContent-Length: 1").unwrap();
        assert!(!r.keep_alive);
        assert!(parse_head("POST /").is_none());
        assert!(parse_head("POST / HTTP/1.1\r\nContent-Length: lots").is_none());
    }

    #[test]
    fn bodies() {
        let one = br#"{"rule":"r","priority":"Notice","time":"2024-03-09T16:00:01Z"}"#;
        assert_eq!(parse_body(Format::Falco, one).unwrap().len(), 1);
        let two = [&one[..], b"\n", &one[..], b"\n"].concat();
        assert_eq!(parse_body(Format::Falco, &two).unwrap().len(), 2);
        let pretty = b"{\n \"rule\": \"r\",\n \"priority\": \"Notice\",\n \"time\": \"2024-03-09T16:00:01Z\"\n}\n";
        assert_eq!(parse_body(Format::Falco, pretty).unwrap().len(), 1);
        let bad = [&one[..], b"\n{oops\n"].concat();
        assert!(parse_body(Format::Falco, &bad)
            .unwrap_err()
            .starts_with("line 2:"));
        assert!(parse_body(Format::Falco, b"").is_err());
        assert!(parse_body(Format::Falco, b"hello")
            .unwrap_err()
            .contains("not a Falco JSON alert"));
    }
}
