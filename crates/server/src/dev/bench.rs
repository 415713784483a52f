//! `meet-recorder bench`: measures the service end to end, in-process, on SQLite and
//! PostgreSQL: signed `egress_updated` webhook throughput and latency, start/stop
//! request latency against the LiveKit emulator, and the time from `egress_ended` to the
//! owner's email handed to an SMTP server. Prints numbers; asserts nothing.

use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use futures::StreamExt;
use livekit_api::access_token::AccessToken;
use livekit_emulator::{Emulator, EmulatorConfig};
use livekit_protocol as proto;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    app::Application,
    config::{Config, Source},
    engine::accounts as auth,
    http::AppState,
};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret-long-enough-for-hs256";

pub struct BenchOptions {
    pub databases: Vec<String>,
    pub postgres_admin_url: String,
    pub webhooks: usize,
    pub concurrency: usize,
    pub recordings: usize,
    /// Recordings taken all the way to the owner's email.
    pub completions: usize,
    /// Size of the file for the download benchmark, in MiB (0 skips it).
    pub download_mib: u64,
    /// Open room pages (event streams) for the live-state fan-out benchmark (0 skips it).
    pub pages: usize,
    /// S3 settings (`AWS_S3_*`) for the download benchmark; local storage when empty.
    pub s3: Vec<(String, String)>,
}

/// Latency percentiles of a set of samples.
struct Stats {
    samples: Vec<Duration>,
}

impl Stats {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self { samples }
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.samples.len() - 1) as f64).round() as usize;
        self.samples[rank.min(self.samples.len() - 1)]
    }

    fn line(&self, what: &str) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "  {what:<28} n={:<6} p50={:>7.2} ms  p90={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
            self.samples.len(),
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.samples.last().copied().unwrap_or_default()),
        )
    }
}

/// Peak resident memory of this process, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub async fn run(options: BenchOptions) -> anyhow::Result<()> {
    println!(
        "meet-recorder bench: {} webhooks at concurrency {}, {} start/stop pairs, {} completions",
        options.webhooks, options.concurrency, options.recordings, options.completions
    );
    for database in &options.databases {
        println!("\n== {database}");
        bench_one(database, &options).await?;
    }
    if let Some(rss) = peak_rss_mib() {
        println!("\npeak resident memory of the whole run: {rss:.1} MiB");
    }
    Ok(())
}

async fn database_url(
    database: &str,
    admin: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(String, Option<String>)> {
    match database {
        "sqlite" => Ok((format!("sqlite://{}/bench.db", dir.display()), None)),
        "postgres" => {
            sqlx::any::install_default_drivers();
            let name = format!("meetrec_bench_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::AnyPool::connect(admin)
                .await
                .with_context(|| format!("connect to {admin}"))?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await?;
            pool.close().await;
            let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
            Ok((format!("{base}/{name}"), Some(name)))
        }
        other => anyhow::bail!("unknown database {other:?} (sqlite or postgres)"),
    }
}

/// One in-process deployment to measure: the emulator, the service on a fresh database,
/// a user with an API token, and a room with one participant.
struct Rig {
    _dir: tempfile::TempDir,
    emulator: Emulator,
    state: AppState,
    http: reqwest::Client,
    api: String,
    webhook_url: String,
    token: String,
    user_id: uuid::Uuid,
    room_id: String,
    pg_name: Option<String>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Rig {
    async fn start(
        database: &str,
        options: &BenchOptions,
        start_delay: Duration,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let webhook_url = format!("http://{addr}/api/v1.0/rooms/webhooks-livekit/");
        let mut emulator_config = EmulatorConfig::new(KEY, SECRET);
        emulator_config.webhook_urls = vec![webhook_url.clone()];
        emulator_config.storage_dir = dir.path().join("egress");
        emulator_config.start_delay = start_delay;
        let emulator = Emulator::start(emulator_config, "127.0.0.1:0".parse()?).await?;

        let (url, pg_name) =
            database_url(database, &options.postgres_admin_url, dir.path()).await?;
        let listen = addr.to_string();
        let livekit_url = emulator.url();
        let storage_dir = dir.path().join("egress").display().to_string();
        let mail_dir = dir.path().join("mail").display().to_string();
        let mut pairs = vec![
            ("EMAIL_BACKEND", "file"),
            ("EMAIL_FILE_PATH", mail_dir.as_str()),
            ("DATABASE_URL", url.as_str()),
            ("MEET_RECORDER_LISTEN", listen.as_str()),
            ("RECORDING_ENABLE", "true"),
            ("LIVEKIT_API_URL", livekit_url.as_str()),
            ("LIVEKIT_API_KEY", KEY),
            ("LIVEKIT_API_SECRET", SECRET),
            ("MEET_RECORDER_STORAGE_DIR", storage_dir.as_str()),
        ];
        pairs.extend_from_slice(settings);
        let state = AppState::migrated(Config::from_source(&Source::from_pairs(pairs))?).await?;
        let user = state
            .db
            .create_user("bench@example.com", "Bench", None, "en", "UTC")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let token = format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token());
        state
            .db
            .create_api_token(&auth::token_hash(&token), user.id, "bench")
            .await?;
        let app = Application::with_listener(listener, state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));

        let http = reqwest::Client::new();
        let api = format!("http://{addr}/api/v1.0");
        let room: Value = http
            .post(format!("{api}/rooms/"))
            .bearer_auth(&token)
            .json(&json!({"name": "Benchmark room"}))
            .send()
            .await?
            .json()
            .await?;
        let room_id = room["id"].as_str().context("room created")?.to_owned();
        emulator.join(&room_id, "bench-participant");
        Ok(Self {
            _dir: dir,
            emulator,
            state,
            http,
            api,
            webhook_url,
            token,
            user_id: user.id,
            room_id,
            pg_name,
            stop,
            server,
        })
    }

    /// Starts a recording and returns its egress id.
    async fn start_recording(&self, mode: &str) -> anyhow::Result<(Duration, String)> {
        let began = Instant::now();
        let reply = self
            .http
            .post(format!(
                "{}/rooms/{}/start-recording/",
                self.api, self.room_id
            ))
            .bearer_auth(&self.token)
            .json(&json!({ "mode": mode }))
            .send()
            .await?;
        let elapsed = began.elapsed();
        anyhow::ensure!(reply.status() == 201, "start answered {}", reply.status());
        let reply: Value = reply.json().await?;
        let egress_id = reply["recording"]["worker_id"]
            .as_str()
            .context("recording started")?
            .to_owned();
        Ok((elapsed, egress_id))
    }

    async fn stop_recording(&self) -> anyhow::Result<Duration> {
        let began = Instant::now();
        let reply = self
            .http
            .post(format!(
                "{}/rooms/{}/stop-recording/",
                self.api, self.room_id
            ))
            .bearer_auth(&self.token)
            .send()
            .await?;
        anyhow::ensure!(reply.status() == 200, "stop answered {}", reply.status());
        Ok(began.elapsed())
    }

    async fn shut_down(self, admin: &str) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        self.state.db.close().await;
        self.emulator.shutdown().await;
        drop_database(admin, self.pg_name).await
    }
}

async fn bench_one(database: &str, options: &BenchOptions) -> anyhow::Result<()> {
    // Egresses stay STARTING, so a stop aborts them at once: the numbers measure the
    // service and the Twirp round trips, not ffmpeg rendering in the background.
    let rig = Rig::start(database, options, Duration::from_secs(3600), &[]).await?;

    let mut starts = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..options.recordings {
        starts.push(rig.start_recording("screen_recording").await?.0);
        stops.push(rig.stop_recording().await?);
    }
    println!("{}", Stats::new(starts).line("start-recording"));
    println!("{}", Stats::new(stops).line("stop-recording"));

    // One running recording whose egress the webhooks are about.
    let (_, egress_id) = rig.start_recording("transcript").await?;
    let room_id = rig.room_id.clone();
    let http = rig.http.clone();
    let webhook_url = rig.webhook_url.clone();

    // Signed egress_updated webhooks, each with its own event id.
    let bodies: Vec<(String, String)> = (0..options.webhooks)
        .map(|i| signed_egress_updated(&room_id, &egress_id, i))
        .collect();
    let began = Instant::now();
    let latencies = futures::stream::iter(bodies)
        .map(|(body, jwt)| {
            let http = http.clone();
            let url = webhook_url.clone();
            async move {
                let sent = Instant::now();
                let response = http
                    .post(url)
                    .header("content-type", "application/webhook+json")
                    .header("authorization", jwt)
                    .body(body)
                    .send()
                    .await;
                let ok = response.is_ok_and(|r| r.status().is_success());
                (sent.elapsed(), ok)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let elapsed = began.elapsed();
    let failures = latencies.iter().filter(|(_, ok)| !ok).count();
    let stats = Stats::new(latencies.into_iter().map(|(d, _)| d).collect());
    println!("{}", stats.line("egress_updated webhook"));
    println!(
        "  webhook throughput           {:.0} req/s ({} in {:.2} s, {failures} failed)",
        options.webhooks as f64 / elapsed.as_secs_f64(),
        options.webhooks,
        elapsed.as_secs_f64()
    );

    rig.shut_down(&options.postgres_admin_url).await?;
    bench_completion(database, options).await?;
    if options.pages > 0 {
        bench_live_pages(database, options).await?;
    }
    if options.download_mib > 0 && database == options.databases[0] {
        bench_downloads(database, options).await?;
    }
    Ok(())
}

/// This process's resident memory now, in MiB (Linux `VmRSS`).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// Reads a response body to the end, returning how many bytes came.
async fn drain_body(response: reqwest::Response) -> anyhow::Result<u64> {
    let mut stream = response.bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        total += chunk?.len() as u64;
    }
    Ok(total)
}

/// A large download through the service against the same bytes read straight from the
/// storage, and the memory while 8 downloads run at once.
async fn bench_downloads(database: &str, options: &BenchOptions) -> anyhow::Result<()> {
    let settings: Vec<(&str, &str)> = options
        .s3
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let rig = Rig::start(database, options, Duration::from_millis(100), &settings).await?;
    rig.start_recording("transcript").await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    rig.stop_recording().await?;
    let recording = loop {
        let (recordings, _) = rig.state.db.recordings_of(rig.user_id, 1, 0).await?;
        if let Some((r, _)) = recordings
            .into_iter()
            .next()
            .filter(|(r, _)| r.status.is_saved())
        {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let key = rig.state.config.recording.key(recording.id, recording.mode);
    // Replace the file with a large one, written from disk in parts.
    let size = options.download_mib * 1024 * 1024;
    let file = tempfile::NamedTempFile::new()?;
    {
        use std::io::Write;
        let mut writer = std::io::BufWriter::new(file.as_file());
        let chunk = vec![0x5au8; 1024 * 1024];
        for _ in 0..options.download_mib {
            writer.write_all(&chunk)?;
        }
    }
    let storage_kind = if let Some(s3) = &rig.state.config.s3 {
        let target =
            livekit_emulator::storage::UploadTarget::S3(livekit_emulator::storage::S3Target {
                endpoint: s3.endpoint.clone(),
                bucket: s3.bucket.clone(),
                access_key: s3.access_key_id.clone(),
                secret: secrecy::ExposeSecret::expose_secret(&s3.secret_access_key).to_owned(),
                session_token: String::new(),
                region: s3.region.clone(),
                force_path_style: true,
                metadata: Default::default(),
                content_disposition: String::new(),
            });
        target.upload_file(&key, file.path(), "audio/ogg").await?;
        "S3"
    } else {
        std::fs::copy(file.path(), rig.state.config.storage_dir.join(&key))?;
        "local directory"
    };
    drop(file);
    let url = format!("{}/recordings/{}/media/", rig.api, recording.id);

    let began = Instant::now();
    let direct = rig.state.storage.get(&key, None).await?;
    let mut body = direct.body;
    let mut direct_bytes = 0u64;
    while let Some(chunk) = body.next().await {
        direct_bytes += chunk?.len() as u64;
    }
    let direct_rate = direct_bytes as f64 / 1048576.0 / began.elapsed().as_secs_f64();

    let began = Instant::now();
    let response = rig.http.get(&url).bearer_auth(&rig.token).send().await?;
    let served = drain_body(response).await?;
    let served_rate = served as f64 / 1048576.0 / began.elapsed().as_secs_f64();
    anyhow::ensure!(served == size && direct_bytes == size, "short download");
    println!(
        "  download {} MiB ({storage_kind})   through the service {served_rate:.0} MiB/s, straight from storage {direct_rate:.0} MiB/s, ratio {:.2}",
        options.download_mib,
        served_rate / direct_rate
    );

    let baseline = rss_mib();
    let peak = std::sync::Arc::new(std::sync::Mutex::new(baseline));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let now = rss_mib();
                {
                    let mut peak = peak.lock().unwrap();
                    *peak = peak.max(now);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let began = Instant::now();
    let downloads = (0..8).map(|_| {
        let request = rig.http.get(&url).bearer_auth(&rig.token).send();
        async move { drain_body(request.await?).await }
    });
    let results = futures::future::join_all(downloads).await;
    let elapsed = began.elapsed();
    sampling.abort();
    let total: u64 = results.into_iter().map(|r| r.unwrap_or(0)).sum();
    let peak = *peak.lock().unwrap();
    println!(
        "  8 concurrent downloads       {:.0} MiB/s in all; resident memory {baseline:.0} MiB before, peak {peak:.0} MiB (+{:.0} MiB)",
        total as f64 / 1048576.0 / elapsed.as_secs_f64(),
        peak - baseline
    );
    rig.shut_down(&options.postgres_admin_url).await
}

async fn drop_database(admin: &str, name: Option<String>) -> anyhow::Result<()> {
    if let Some(name) = name {
        let pool = sqlx::AnyPool::connect(admin).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&pool)
            .await?;
    }
    Ok(())
}

/// Completion end to end: egresses that really record, the file confirmed in storage,
/// the email handed to an SMTP server on loopback. Measures the time from LiveKit
/// sending `egress_ended` to the end of the SMTP DATA command.
async fn bench_completion(database: &str, options: &BenchOptions) -> anyhow::Result<()> {
    let (smtp_port, delivered) = smtp_sink().await?;
    let smtp_port = smtp_port.to_string();
    let settings = [
        ("EMAIL_BACKEND", "smtp"),
        ("EMAIL_HOST", "127.0.0.1"),
        ("EMAIL_PORT", smtp_port.as_str()),
    ];
    let rig = Rig::start(database, options, Duration::from_millis(100), &settings).await?;
    let mut latencies = Vec::new();
    for n in 0..options.completions {
        let (_, egress_id) = rig.start_recording("transcript").await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        rig.stop_recording().await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mailed_at = loop {
            if let Some(at) = delivered.lock().unwrap().get(n).copied() {
                break at;
            }
            anyhow::ensure!(Instant::now() < deadline, "no email within 60 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let ended_at = rig
            .emulator
            .webhook_log()
            .into_iter()
            .find(|r| {
                r.event == "egress_ended" && r.egress_id.as_deref() == Some(egress_id.as_str())
            })
            .map(|r| r.first_sent_at_ms)
            .context("egress_ended was sent")?;
        latencies.push(Duration::from_millis((mailed_at - ended_at).max(0) as u64));
    }
    println!(
        "{}",
        Stats::new(latencies).line("egress_ended -> SMTP email")
    );
    rig.shut_down(&options.postgres_admin_url).await
}

/// Many room pages follow one room: how long after the start request each page's stream
/// shows the recording `active`, and what each open page costs in memory.
async fn bench_live_pages(database: &str, options: &BenchOptions) -> anyhow::Result<()> {
    const ROUNDS: usize = 10;
    // Egresses stay STARTING; the recording is `active` as soon as the start returns.
    let rig = Rig::start(database, options, Duration::from_secs(3600), &[]).await?;
    let before = rss_mib();
    let (seen, mut arrivals) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let url = format!("{}/rooms/{}/recording-events/", rig.api, rig.room_id);
    let mut readers = Vec::new();
    for _ in 0..options.pages {
        let response = rig.http.get(&url).bearer_auth(&rig.token).send().await?;
        anyhow::ensure!(
            response.status() == 200,
            "stream answered {}",
            response.status()
        );
        let seen = seen.clone();
        readers.push(tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                let at = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                        let _ = seen.send((data.trim().to_owned(), at));
                    }
                }
            }
        }));
    }
    // Every page has its first event before the clock starts.
    for _ in 0..options.pages {
        arrivals.recv().await.context("first event")?;
    }
    let per_page_kib = (rss_mib() - before).max(0.0) * 1024.0 / options.pages as f64;

    let mut latencies = Vec::new();
    for _ in 0..ROUNDS {
        let sent = Instant::now();
        rig.start_recording("screen_recording").await?;
        let heard = until_every_page(&mut arrivals, options.pages, "the start", |state| {
            state["recordings"]["screen_recording"]["status"] == "active"
        })
        .await?;
        latencies.extend(heard.into_iter().map(|at| at - sent));
        rig.stop_recording().await?;
        // Let the stop's events through before the next round.
        until_every_page(&mut arrivals, options.pages, "the stop", |state| {
            state["recordings"]["screen_recording"]["is_open"] == false
        })
        .await?;
    }
    println!(
        "{}",
        Stats::new(latencies).line(&format!("start -> {} pages see it", options.pages))
    );
    println!("  memory per open page         {per_page_kib:.1} KiB (service and reader together)");
    for reader in readers {
        reader.abort();
    }
    rig.shut_down(&options.postgres_admin_url).await
}

/// Waits until `pages` events match `wanted` (one per page) and returns when each arrived.
async fn until_every_page(
    arrivals: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>,
    pages: usize,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> anyhow::Result<Vec<Instant>> {
    let mut heard = Vec::with_capacity(pages);
    while heard.len() < pages {
        let (data, at) = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
            .await
            .with_context(|| format!("every page hears {what} within 30 s"))?
            .context("streams open")?;
        if wanted(&serde_json::from_str(&data)?) {
            heard.push(at);
        }
    }
    Ok(heard)
}

/// A minimal SMTP server: accepts every message and notes when each DATA ended.
async fn smtp_sink() -> anyhow::Result<(u16, std::sync::Arc<std::sync::Mutex<Vec<i64>>>)> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let delivered: std::sync::Arc<std::sync::Mutex<Vec<i64>>> = Default::default();
    let sink = delivered.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 bench ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        sink.lock()
                            .unwrap()
                            .push(chrono::Utc::now().timestamp_millis());
                        b"250 OK\r\n"
                    } else {
                        match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                            Some("EHLO") => b"250-bench\r\n250 8BITMIME\r\n",
                            Some("DATA") => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            Some("QUIT") => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 OK\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok((port, delivered))
}

/// An `egress_updated` (ACTIVE) webhook signed as LiveKit signs it.
fn signed_egress_updated(room: &str, egress_id: &str, n: usize) -> (String, String) {
    let event = proto::WebhookEvent {
        event: "egress_updated".into(),
        id: format!("EV_bench_{n}_{}", uuid::Uuid::new_v4().simple()),
        created_at: chrono::Utc::now().timestamp(),
        room: Some(proto::Room {
            name: room.to_owned(),
            ..Default::default()
        }),
        egress_info: Some(proto::EgressInfo {
            egress_id: egress_id.to_owned(),
            room_name: room.to_owned(),
            status: proto::EgressStatus::EgressActive as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    let body = serde_json::to_string(&event).expect("serialize webhook");
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()));
    let jwt = AccessToken::with_api_key(KEY, SECRET)
        .with_sha256(&sha)
        .to_jwt()
        .expect("sign webhook");
    (body, jwt)
}
