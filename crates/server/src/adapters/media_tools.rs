//! ffmpeg and ffprobe, for the one thing the service does to media itself: joining the
//! egress segments of a recording that was paused into one file, without re-encoding
//! (the concat demuxer with stream copy), and measuring the result.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::Duration,
};

use tokio::process::Command;

/// How long joining may take: stream copy runs at disk speed, hours of recording in
/// seconds.
const JOIN_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MediaError(pub String);

/// Whether ffmpeg and ffprobe can be run here (checked once): pausing needs them.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        ["ffmpeg", "ffprobe"].iter().all(|tool| {
            std::process::Command::new(tool)
                .arg("-version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
    })
}

/// Joins `parts`, in order, into `output`, copying the streams.
pub async fn concat(parts: &[PathBuf], output: &Path) -> Result<(), MediaError> {
    let list = output.with_extension("txt");
    // The concat demuxer's list: one `file '...'` line per part, quotes escaped.
    let lines: String = parts
        .iter()
        .map(|part| {
            format!(
                "file '{}'\n",
                part.display().to_string().replace('\'', "'\\''")
            )
        })
        .collect();
    tokio::fs::write(&list, lines)
        .await
        .map_err(|e| MediaError(format!("{}: {e}", list.display())))?;
    let mut command = Command::new("ffmpeg");
    command
        .args([
            "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i",
        ])
        .arg(&list)
        .args(["-c", "copy"]);
    if output.extension().is_some_and(|ext| ext == "mp4") {
        // The index first, so players start at once, as Egress writes its files.
        command.args(["-movflags", "+faststart"]);
    }
    command.arg(output);
    run(command, "ffmpeg").await.map(drop)
}

/// The media's duration, from its container.
pub async fn duration(path: &Path) -> Result<Duration, MediaError> {
    let mut command = Command::new("ffprobe");
    command
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
        ])
        .arg(path);
    let out = run(command, "ffprobe").await?;
    let seconds: f64 = out.trim().parse().map_err(|_| {
        MediaError(format!(
            "ffprobe: no duration for {}: {out:?}",
            path.display()
        ))
    })?;
    Ok(Duration::from_secs_f64(seconds.max(0.0)))
}

async fn run(mut command: Command, name: &str) -> Result<String, MediaError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(JOIN_TIMEOUT, command.output())
        .await
        .map_err(|_| MediaError(format!("{name} took longer than {JOIN_TIMEOUT:?}")))?
        .map_err(|e| MediaError(format!("{name}: {e}")))?;
    if !output.status.success() {
        return Err(MediaError(format!(
            "{name}: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
