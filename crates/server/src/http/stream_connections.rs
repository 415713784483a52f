//! Connections that carry one room page's event stream (`GET
//! /api/v1.0/rooms/{room}/recording-events/`), served here rather than by hyper.
//!
//! hyper keeps two 8 KiB buffers for as long as an HTTP/1 connection is open (its read
//! buffer and its response-head buffer; neither can be made smaller), and an event stream
//! keeps its connection open as long as its page: 10,000 open pages took 155 MiB, most of it
//! those buffers. Here such a request is recognised by peeking at the connection's first
//! bytes, parsed with `httparse`, answered by the same router as every other request (every
//! layer and extractor applies: the guard, the client address, sign-in, the stream limit),
//! and its events are written as HTTP/1.1 chunks with no buffer kept between them.
//!
//! Anything else goes to hyper untouched, nothing of it read: another request, and an event
//! stream request this module would have to think harder about (HTTP/1.0, a body, an
//! upgrade, a head longer than [`MAX_HEAD`] or not yet all arrived). hyper serves those
//! correctly, only with its buffers.
//!
//! The connection is closed after the answer: an event stream ends only when its page goes
//! away, and an error answer (`401`, `404`, `429`) says `Connection: close`. A page sends
//! nothing after its request, so anything read from it (its end, most often) ends the
//! stream at once, and with it the stream's place among its client's.

use std::{convert::Infallible, io::Write as _, time::Duration};

use axum::{
    body::Body,
    http::{HeaderValue, Method, Request, Response, Version, header},
};
use http_body_util::BodyExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::watch,
};

/// How every request line served here starts; a connection whose first bytes are anything
/// else costs one peek of this many bytes.
const PREFIX: &[u8] = b"GET /api/v1.0/rooms/";
/// The longest request head read here (headers and cookies included); a longer one goes to
/// hyper.
const MAX_HEAD: usize = 8192;
/// Headers a request served here may have; more go to hyper.
const MAX_HEADERS: usize = 64;
/// A write that makes no progress for this long ends the stream: the page is gone, or its
/// client stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest non-streaming answer (an error) written here.
const MAX_ANSWER: usize = 64 * 1024;

/// Serves `stream` if its first request is a room's event stream, to the end of the
/// connection; otherwise hands it back, nothing read from it. `None` also when the client
/// sent nothing within `header_timeout`, went away, or the service is stopping.
pub async fn serve_if_event_stream<S>(
    mut stream: TcpStream,
    service: S,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) -> Option<TcpStream>
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let peeked = tokio::select! {
        peeked = tokio::time::timeout(header_timeout, peek(&stream)) => peeked,
        // Shutting down: a connection that has sent nothing yet is closed.
        () = stopped(&mut stopping) => return None,
    };
    let (request, head_length) = match peeked {
        Err(_) | Ok(Err(_)) => return None,
        Ok(Ok(None)) => return Some(stream),
        Ok(Ok(Some(request))) => request,
    };
    if consume(&mut stream, head_length).await.is_err() {
        return None;
    }
    let response = call(service, request).await;
    answer(stream, response, stopping).await;
    None
}

/// The connection's first request, when it is one served here, and its head's length;
/// nothing is read from the connection.
async fn peek(stream: &TcpStream) -> std::io::Result<Option<(Request<Body>, usize)>> {
    let mut start = [0u8; PREFIX.len()];
    let seen = stream.peek(&mut start).await?;
    if seen < PREFIX.len() || start != PREFIX {
        return Ok(None);
    }
    // The whole head is most often in the first packet; when it is not, hyper reads it.
    let mut head = vec![0u8; MAX_HEAD];
    let seen = stream.peek(&mut head).await?;
    Ok(event_stream_request(&head[..seen]))
}

/// Reads (drops) the `length` bytes of the head already peeked at.
async fn consume(stream: &mut TcpStream, length: usize) -> std::io::Result<()> {
    let mut head = vec![0u8; length];
    stream.read_exact(&mut head).await.map(drop)
}

/// `head` as a request for a room's event stream, and the head's length; `None` for
/// anything else or anything unusual (see the module documentation).
fn event_stream_request(head: &[u8]) -> Option<(Request<Body>, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = parsed.parse(head).ok()? else {
        return None;
    };
    if parsed.method != Some("GET") || parsed.version != Some(1) {
        return None;
    }
    let target = parsed.path?;
    let path = target.split_once('?').map_or(target, |(path, _query)| path);
    let room = path
        .strip_prefix("/api/v1.0/rooms/")?
        .strip_suffix("/recording-events/")?;
    if room.is_empty() || room.contains('/') {
        return None;
    }
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(target)
        .version(Version::HTTP_11);
    for field in parsed.headers.iter() {
        let name = field.name;
        let is = |other: &header::HeaderName| name.eq_ignore_ascii_case(other.as_str());
        if is(&header::TRANSFER_ENCODING)
            || is(&header::UPGRADE)
            || is(&header::EXPECT)
            || (is(&header::CONTENT_LENGTH) && field.value != b"0")
        {
            return None;
        }
        request = request.header(name, field.value);
    }
    // An invalid header name or value: hyper answers it.
    let request = request.body(Body::empty()).ok()?;
    Some((request, length))
}

/// The router's answer to `request`.
async fn call<S>(mut service: S, request: Request<Body>) -> Response<Body>
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let ready = std::future::poll_fn(|cx| service.poll_ready(cx)).await;
    let Ok(()) = ready;
    // Boxed: the router's future is large, and the connection's task would otherwise keep
    // room for it for as long as the stream is open.
    let answered = Box::pin(service.call(request)).await;
    let Ok(response) = answered;
    response
}

/// Writes `response` on `stream`: an answer of known length whole, a stream chunk by chunk
/// until it ends, the client sends anything (or goes away), or the service stops.
async fn answer(
    mut stream: TcpStream,
    response: Response<Body>,
    mut stopping: watch::Receiver<bool>,
) {
    let (parts, mut body) = response.into_parts();
    let known_length = axum::body::HttpBody::size_hint(&body).exact();
    let mut head = Vec::with_capacity(512);
    let reason = parts.status.canonical_reason().unwrap_or("");
    let _ = write!(head, "HTTP/1.1 {} {reason}\r\n", parts.status.as_str());
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        head_field(&mut head, name.as_str(), value);
    }
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    head_field(
        &mut head,
        "date",
        &HeaderValue::from_str(&date).expect("a date is a header value"),
    );
    head.extend_from_slice(b"connection: close\r\n");

    if let Some(length) = known_length {
        let whole = match usize::try_from(length) {
            Ok(length) if length <= MAX_ANSWER => body.collect().await.map(|c| c.to_bytes()),
            _ => return,
        };
        let Ok(whole) = whole else { return };
        let _ = write!(head, "content-length: {}\r\n\r\n", whole.len());
        head.extend_from_slice(&whole);
        let _ = write_within(&mut stream, &head).await;
        let _ = stream.shutdown().await;
        return;
    }

    head.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
    if write_within(&mut stream, &head).await.is_err() {
        return;
    }
    drop(head);
    let (mut from_client, mut to_client) = stream.split();
    let mut anything = [0u8; 1];
    loop {
        tokio::select! {
            frame = body.frame() => {
                let data = match frame {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => data,
                        _ => continue,
                    },
                    // The stream failed: its client sees the connection end and reconnects.
                    Some(Err(_)) => return,
                    None => break,
                };
                let mut chunk = Vec::with_capacity(data.len() + 12);
                let _ = write!(chunk, "{:x}\r\n", data.len());
                chunk.extend_from_slice(&data);
                chunk.extend_from_slice(b"\r\n");
                if write_within(&mut to_client, &chunk).await.is_err() {
                    return;
                }
            }
            // The page went away (or sent something it should not have).
            _ = from_client.read(&mut anything) => return,
            // Shutting down: the stream ends cleanly and the page reconnects elsewhere.
            () = stopped(&mut stopping) => break,
        }
    }
    let _ = write_within(&mut to_client, b"0\r\n\r\n").await;
}

/// Returns once the service is stopping.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopped| *stopped).await;
}

fn head_field(head: &mut Vec<u8>, name: &str, value: &HeaderValue) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// Writes all of `bytes`, or fails after [`WRITE_TIMEOUT`] without progress.
async fn write_within(
    stream: &mut (impl tokio::io::AsyncWrite + Unpin),
    bytes: &[u8],
) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(bytes)).await {
        Ok(written) => written,
        Err(_elapsed) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Option<(Request<Body>, usize)> {
        event_stream_request(head.as_bytes())
    }

    #[test]
    fn a_room_event_stream_request_is_recognised_with_its_headers() {
        let head = "GET /api/v1.0/rooms/abc-def/recording-events/?name=Ann HTTP/1.1\r\n\
                    Host: example.org\r\nCookie: meet_recorder_session=x\r\nAccept: text/event-stream\r\n\r\n";
        let (request, length) = parse(head).unwrap();
        assert_eq!(length, head.len());
        assert_eq!(
            request.uri().path(),
            "/api/v1.0/rooms/abc-def/recording-events/"
        );
        assert_eq!(request.uri().query(), Some("name=Ann"));
        assert_eq!(request.headers()["cookie"], "meet_recorder_session=x");
        assert_eq!(request.headers()["accept"], "text/event-stream");
        // Bytes after the head (another request) are not part of it.
        let (_, length) = parse(&format!("{head}GET / HTTP/1.1\r\n")).unwrap();
        assert_eq!(length, head.len());
    }

    #[test]
    fn everything_else_is_left_to_hyper() {
        for head in [
            // Other requests.
            "GET /api/v1.0/rooms/abc/ HTTP/1.1\r\n\r\n",
            "GET /api/v1.0/rooms/abc/recording-events/x HTTP/1.1\r\n\r\n",
            "GET /api/v1.0/rooms/a/b/recording-events/ HTTP/1.1\r\n\r\n",
            "GET /api/v1.0/rooms//recording-events/ HTTP/1.1\r\n\r\n",
            "POST /api/v1.0/rooms/abc/recording-events/ HTTP/1.1\r\n\r\n",
            // What hyper knows better.
            "GET /api/v1.0/rooms/abc/recording-events/ HTTP/1.0\r\n\r\n",
            "GET /api/v1.0/rooms/abc/recording-events/ HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "GET /api/v1.0/rooms/abc/recording-events/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /api/v1.0/rooms/abc/recording-events/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "GET /api/v1.0/rooms/abc/recording-events/ HTTP/1.1\r\nBad Name: x\r\n\r\n",
            // A head not all arrived yet.
            "GET /api/v1.0/rooms/abc/recording-events/ HTTP/1.1\r\nHost: exa",
        ] {
            assert!(parse(head).is_none(), "{head:?}");
        }
        assert!(
            parse(
                "GET /api/v1.0/rooms/abc/recording-events/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
            )
            .is_some()
        );
    }
}
