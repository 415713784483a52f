//! Real media files: ffmpeg renders a test pattern as long as the egress was active.
//! MP4 is H.264 + AAC showing the room name and a running clock; OGG is an Opus tone;
//! MP3 a LAME tone. Small frames keep rendering much faster than real time.

use std::{path::Path, time::Duration};

use anyhow::Context;
use tempfile::TempPath;
use tokio::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Mp4,
    Ogg,
    Mp3,
}

impl MediaKind {
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Mp4 => ".mp4",
            MediaKind::Ogg => ".ogg",
            MediaKind::Mp3 => ".mp3",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Mp4 => "video/mp4",
            MediaKind::Ogg => "audio/ogg",
            MediaKind::Mp3 => "audio/mpeg",
        }
    }
}

/// A font for the overlay; without one the pattern is rendered with no text.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Renders `duration` of media into a temporary file, removed when the path is dropped.
pub(crate) async fn render(
    ffmpeg: &Path,
    kind: MediaKind,
    duration: Duration,
    title: &str,
) -> anyhow::Result<TempPath> {
    // ffmpeg cannot write an empty stream; a stop right after start still gives a file.
    let seconds = format!("{:.3}", duration.as_secs_f64().max(0.2));
    let output = tempfile::Builder::new()
        .suffix(kind.extension())
        .tempfile()?
        .into_temp_path();
    let title_file = tempfile::NamedTempFile::new()?;
    std::fs::write(title_file.path(), title)?;

    let mut command = Command::new(ffmpeg);
    command.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]);
    match kind {
        MediaKind::Mp4 => {
            command.args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15"]);
            command.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
            command.args(["-t", &seconds]);
            if Path::new(FONT).exists() {
                let title_path = title_file.path().display().to_string().replace('\'', "");
                let filter = format!(
                    "drawtext=fontfile={FONT}:textfile='{title_path}':expansion=none:\
                     fontcolor=white:fontsize=28:box=1:boxcolor=black@0.6:x=20:y=20,\
                     drawtext=fontfile={FONT}:text='%{{pts\\:hms}}':\
                     fontcolor=white:fontsize=28:box=1:boxcolor=black@0.6:x=20:y=h-50"
                );
                command.args(["-vf", &filter]);
            }
            command.args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-movflags",
                "+faststart",
            ]);
        }
        MediaKind::Ogg => {
            command.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
            command.args(["-t", &seconds, "-c:a", "libopus", "-b:a", "32k"]);
        }
        MediaKind::Mp3 => {
            command.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]);
            command.args(["-t", &seconds, "-c:a", "libmp3lame", "-b:a", "64k"]);
        }
    }
    command.arg(&output);
    command.kill_on_drop(true);
    let result = command
        .output()
        .await
        .with_context(|| format!("run {}", ffmpeg.display()))?;
    anyhow::ensure!(
        result.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&result.stderr).trim()
    );
    Ok(output)
}
