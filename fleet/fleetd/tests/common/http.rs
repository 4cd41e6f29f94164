//! A deliberately small HTTP/1.1 client over any byte stream (TCP or unix socket): one request per
//! connection, the head parsed, the body de-chunked. Small enough that what the tests assert about status
//! lines, headers and bodies is exactly what went over the wire.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// A response as received.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// fleet's error body `{"error":{"code":N,"message":"…"}}` as (status, message), checking that the code
    /// in the body is the status and that it is sent as JSON.
    pub fn error(&self) -> (u16, String) {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "error bodies are JSON: {self:?}"
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], self.status, "code in body: {v}");
        let message = v["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("message is a string: {v}"))
            .to_string();
        (self.status, message)
    }
}

/// A request to send.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: Vec<u8>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Request<'a> {
        Request {
            method,
            path,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(value.to_string())
    }
}

/// A response whose body is still arriving.
pub struct Streaming<S> {
    pub head: Response,
    reader: BufReader<S>,
    chunked: bool,
}

impl<S: AsyncRead + Unpin> Streaming<S> {
    /// The next piece of body (a chunk, or whatever arrived for a non-chunked body); `None` at the end.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        if self.chunked {
            read_chunk(&mut self.reader).await
        } else {
            let mut buf = vec![0; 64 * 1024];
            match self.reader.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => Some(buf[..n].to_vec()),
            }
        }
    }

    /// The next piece, or `None` if nothing arrives within `limit` (or the body ended).
    pub async fn next_within(&mut self, limit: Duration) -> Option<Vec<u8>> {
        tokio::time::timeout(limit, self.next())
            .await
            .ok()
            .flatten()
    }

    /// Everything up to the end of the body.
    pub async fn rest(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(piece) = self.next().await {
            out.extend(piece);
        }
        out
    }
}

/// Sends `req` on `stream` (`Connection: close`) and reads the head.
pub async fn open<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    req: Request<'_>,
) -> Streaming<S> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: fleet\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", req.body.len()));
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream.write_all(&req.body).await.expect("send body");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("header has a colon");
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let head = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    Streaming {
        head,
        reader,
        chunked,
    }
}

/// Sends `req` and reads the whole response.
pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(stream: S, req: Request<'_>) -> Response {
    let head_only = req.method == "HEAD";
    let s = open(stream, req).await;
    let mut head = s.head.clone();
    if head_only {
        return head;
    }
    let len = head
        .header("content-length")
        .map(|v| v.parse::<usize>().expect("content-length"));
    head.body = match (s.chunked, len) {
        (false, Some(len)) => {
            let mut reader = s.reader;
            let mut body = vec![0; len];
            reader.read_exact(&mut body).await.expect("body");
            body
        }
        _ => s.rest().await,
    };
    head
}

async fn read_chunk<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> Option<Vec<u8>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
    let mut data = vec![0; size + 2]; // the chunk and its CRLF
    reader.read_exact(&mut data).await.ok()?;
    data.truncate(size);
    if size == 0 {
        return None;
    }
    Some(data)
}
