//! A real SMTP server for the mail tests, and just enough MIME to read what it got.
//!
//! [`SmtpServer`] runs `aiosmtpd` (from the Python in `MEETREC_TEST_PYTHON`, default
//! `python3`; `scripts/ensure-test-deps.sh` installs it in the test venv) on a free
//! loopback port with its `Mailbox` handler, which stores each accepted message in a
//! Maildir. Testing against a real server, rather than a mock transport, checks what
//! actually crosses the wire: the SMTP dialogue, the envelope and the RFC 5322 text.
//!
//! [`ParsedEmail`] reads such a message back: headers (unfolded, RFC 2047 decoded on
//! request) and the decoded parts of a `multipart/alternative` body (7bit, 8bit,
//! quoted-printable, base64). It is deliberately small, and strict where the tests need
//! it: anything it does not understand makes the test fail rather than pass.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use base64::Engine;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
};

/// A running `aiosmtpd`, killed on drop.
pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts the server and waits (with a deadline) until it greets with `220`.
    pub async fn start() -> SmtpServer {
        let python = std::env::var("MEETREC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        // A port picked by the OS can be taken by someone else before the server binds
        // it; then the server exits and we try another.
        for attempt in 1..=3 {
            let port = free_port();
            let log = dir.path().join(format!("aiosmtpd-{attempt}.log"));
            let mut child = Command::new(&python)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("run {python} -m aiosmtpd (set MEETREC_TEST_PYTHON): {e}")
                });
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let output = std::fs::read_to_string(&log).unwrap_or_default();
                    if output.contains("Address already in use") && attempt < 3 {
                        break;
                    }
                    panic!(
                        "aiosmtpd exited with {status} (is aiosmtpd installed for {python}? \
                         set MEETREC_TEST_PYTHON):\n{output}"
                    );
                }
                if greets(port).await {
                    return SmtpServer {
                        child,
                        port,
                        maildir,
                        _dir: dir,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill().await;
                    let output = std::fs::read_to_string(&log).unwrap_or_default();
                    panic!(
                        "aiosmtpd did not accept connections on port {port} within 20 s:\n{output}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        unreachable!("the last attempt panics or returns")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The raw RFC 5322 texts received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        read_dir_sorted(&self.maildir.join("new"))
    }

    /// Waits until at least `n` messages have arrived; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} message(s) within {timeout:?}, got {}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server, waits until it is gone and returns the port it listened on.
    pub async fn stop(mut self) -> u16 {
        self.child.kill().await.unwrap();
        self.port
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether an SMTP server on `port` sends its `220` greeting.
async fn greets(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut line = String::new();
        BufReader::new(&mut stream)
            .read_line(&mut line)
            .await
            .ok()?;
        let _ = stream.write_all(b"QUIT\r\n").await;
        Some(line.starts_with("220"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The files of `dir` (not recursing, skipping dot files), oldest first, as text.
pub fn read_dir_sorted(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| std::fs::read_to_string(path).unwrap())
        .collect()
}

/// A message read back: headers and, for a multipart body, its decoded parts.
#[derive(Debug)]
pub struct ParsedEmail {
    /// Unfolded; names as written.
    pub headers: Vec<(String, String)>,
    /// `(content type without parameters, decoded body)`.
    pub parts: Vec<(String, String)>,
}

impl ParsedEmail {
    /// Parses `raw` (CRLF or LF line endings).
    pub fn parse(raw: &str) -> ParsedEmail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("no header/body separator:\n{raw}"));
        let headers = parse_headers(head);
        let content_type = find(&headers, "Content-Type").unwrap_or_default();
        let parts = if content_type.starts_with("multipart/") {
            let boundary = parameter(&content_type, "boundary")
                .unwrap_or_else(|| panic!("multipart without boundary: {content_type}"));
            parse_parts(body, &boundary)
        } else {
            vec![(
                media_type(&content_type),
                decode_body(body, find(&headers, "Content-Transfer-Encoding").as_deref()),
            )]
        };
        ParsedEmail { headers, parts }
    }

    /// The first header called `name` (case-insensitive), as written.
    pub fn header(&self, name: &str) -> Option<String> {
        find(&self.headers, name)
    }

    /// The first header called `name`, RFC 2047 encoded words decoded.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        self.header(name).map(|value| decode_rfc2047(&value))
    }

    /// The decoded body of the first part of type `media_type` (e.g. `text/html`).
    pub fn part(&self, media_type: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(kind, _)| kind.eq_ignore_ascii_case(media_type))
            .map(|(_, body)| body.as_str())
    }
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            let last = headers
                .last_mut()
                .unwrap_or_else(|| panic!("continuation line without a header: {line:?}"));
            last.1.push_str(line);
        } else {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("not a header line: {line:?}"));
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    headers
}

fn find(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// `text/html` from `text/html; charset=utf-8`.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A parameter of a header value, quoted or not.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, val) = param.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"').to_owned())
    })
}

fn parse_parts(body: &str, boundary: &str) -> Vec<(String, String)> {
    let delimiter = format!("--{boundary}");
    let closing = format!("--{boundary}--");
    assert!(
        body.contains(&closing),
        "no closing delimiter {closing:?}:\n{body}"
    );
    let mut parts = Vec::new();
    // Everything before the first delimiter is the preamble; after the closing one, the
    // epilogue.
    let inner = &body[..body.find(&closing).unwrap()];
    for chunk in inner.split(&delimiter).skip(1) {
        let chunk = chunk.strip_prefix('\n').unwrap_or(chunk);
        // The line break before a delimiter belongs to the delimiter.
        let chunk = chunk.strip_suffix('\n').unwrap_or(chunk);
        let (head, content) = chunk.split_once("\n\n").unwrap_or(("", chunk));
        let headers = parse_headers(head);
        let content_type =
            find(&headers, "Content-Type").unwrap_or_else(|| "text/plain".to_owned());
        parts.push((
            media_type(&content_type),
            decode_body(
                content,
                find(&headers, "Content-Transfer-Encoding").as_deref(),
            ),
        ));
    }
    parts
}

fn decode_body(body: &str, encoding: Option<&str>) -> String {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        None | Some("7bit") | Some("8bit") | Some("binary") => body.to_owned(),
        Some("quoted-printable") => String::from_utf8(decode_quoted_printable(body)).unwrap(),
        Some("base64") => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap(),
            )
            .unwrap()
        }
        Some(other) => panic!("unknown Content-Transfer-Encoding {other}"),
    }
}

/// RFC 2045 quoted-printable: `=XX` bytes and `=` soft line breaks.
pub fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("\r\n", "\n");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad =XX: {hex:?}")));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) in a header value;
/// whitespace between two adjacent encoded words is dropped, as the RFC says.
pub fn decode_rfc2047(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match encoded_word(candidate) {
            Some((decoded, length)) => {
                if !(after_word && before.trim().is_empty()) {
                    out.extend_from_slice(before.as_bytes());
                }
                out.extend(decoded);
                rest = &candidate[length..];
                after_word = true;
            }
            None => {
                out.extend_from_slice(&rest.as_bytes()[..start + 2]);
                rest = &rest[start + 2..];
                after_word = false;
            }
        }
    }
    out.extend_from_slice(rest.as_bytes());
    String::from_utf8(out).expect("decoded header is UTF-8")
}

/// One encoded word at the start of `text`: its bytes and its length in `text`.
fn encoded_word(text: &str) -> Option<(Vec<u8>, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let payload = &inner[..end];
    assert!(
        charset.eq_ignore_ascii_case("utf-8"),
        "unexpected charset {charset:?}"
    );
    let decoded = match encoding {
        "b" | "B" => base64::engine::general_purpose::STANDARD
            .decode(payload)
            .ok()?,
        "q" | "Q" => decode_quoted_printable(&payload.replace('_', " ")),
        _ => return None,
    };
    let length = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decoded, length))
}

#[test]
fn rfc2047_decoder_handles_b_q_and_adjacent_words() {
    assert_eq!(
        decode_rfc2047("Votre enregistrement est =?utf-8?b?cHLDqnQ=?="),
        "Votre enregistrement est prêt"
    );
    // A character split across two words, separated by folding whitespace.
    assert_eq!(
        decode_rfc2047("=?UTF-8?B?cHLD?=\n =?UTF-8?B?qnQ=?= !"),
        "prêt !"
    );
    assert_eq!(decode_rfc2047("=?utf-8?q?pr=C3=AAt_?= x"), "prêt  x");
    assert_eq!(decode_rfc2047("plain =? text"), "plain =? text");
}

#[test]
fn mime_parser_decodes_parts() {
    let raw = "Subject: x\r\nContent-Type: multipart/alternative;\r\n boundary=\"B\"\r\n\r\n\
               --B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
               pr=C3=AAt https://a.example/=\r\nlong\r\n\
               --B\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
               PHA+cHLDqnQ8L3A+\r\n--B--\r\n";
    let parsed = ParsedEmail::parse(raw);
    assert_eq!(
        parsed.part("text/plain"),
        Some("prêt https://a.example/long")
    );
    assert_eq!(parsed.part("text/html"), Some("<p>prêt</p>"));
    assert_eq!(parsed.header("subject").as_deref(), Some("x"));
}
