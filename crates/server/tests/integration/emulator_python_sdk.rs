//! LiveKit's official Python SDK drives the emulator and verifies its webhooks
//! (`tests/conformance/livekit_python_sdk.py`), so the emulator cannot drift from the
//! protocol the real SDKs speak.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::Duration,
};

use livekit_emulator::{Emulator, EmulatorConfig};

use crate::helpers::{API_KEY, API_SECRET};

#[tokio::test]
async fn official_python_sdk_accepts_the_emulator() {
    let python = std::env::var("MEETREC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/livekit_python_sdk.py"
    );
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python} (set MEETREC_TEST_PYTHON): {e}"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let webhook_url = first
        .trim()
        .strip_prefix("WEBHOOK_URL ")
        .unwrap_or_else(|| panic!("unexpected first line from the script: {first:?}"))
        .to_owned();

    let storage = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new(API_KEY, API_SECRET);
    config.webhook_urls = vec![webhook_url];
    config.storage_dir = storage.path().to_path_buf();
    config.start_delay = Duration::from_millis(300);
    let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    writeln!(
        child.stdin.as_mut().unwrap(),
        "EMULATOR {} {API_KEY} {API_SECRET}",
        emulator.url()
    )
    .unwrap();

    // The script prints one line per check and a final count; it runs on a blocking
    // thread so the emulator keeps serving on this runtime.
    let output = tokio::task::spawn_blocking(move || {
        let lines: Vec<String> = stdout.lines().map_while(Result::ok).collect();
        let status = child.wait().unwrap();
        (lines, status)
    });
    let (lines, status) = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the conformance script finished within 2 minutes")
        .unwrap();
    let report = lines.join("\n");
    println!("{report}");
    assert!(status.success(), "Python SDK conformance failed:\n{report}");
    assert!(
        lines.iter().any(|l| l.ends_with(" 0 failed")) && !report.contains("FAIL"),
        "{report}"
    );
}
