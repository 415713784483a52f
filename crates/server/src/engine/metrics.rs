//! Prometheus metrics on `/metrics`: recordings by status and the job queue (read from
//! the database, so every instance reports the same), plus this instance's counters:
//! webhooks by result, job failures, and how long completion and notification take.

use std::{collections::BTreeMap, fmt::Write, sync::Mutex, time::Duration};

use crate::adapters::db::Db;

/// A count and a sum, exposed as a Prometheus summary without quantiles.
#[derive(Default, Clone, Copy)]
struct Timing {
    count: u64,
    sum_seconds: f64,
}

#[derive(Default)]
pub struct Metrics {
    webhooks: Mutex<BTreeMap<&'static str, u64>>,
    job_failures: Mutex<BTreeMap<String, u64>>,
    stop_to_saved: Mutex<Timing>,
    saved_to_notified: Mutex<Timing>,
    pruned: Mutex<crate::adapters::db::Pruned>,
}

impl Metrics {
    pub fn webhook(&self, result: &'static str) {
        *self.webhooks.lock().unwrap().entry(result).or_default() += 1;
    }

    pub fn job_failed(&self, kind: &str) {
        *self
            .job_failures
            .lock()
            .unwrap()
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    pub fn stop_to_saved(&self, elapsed: Duration) {
        let mut timing = self.stop_to_saved.lock().unwrap();
        timing.count += 1;
        timing.sum_seconds += elapsed.as_secs_f64();
    }

    pub fn pruned(&self, pruned: crate::adapters::db::Pruned) {
        let mut total = self.pruned.lock().unwrap();
        total.webhook_events += pruned.webhook_events;
        total.recording_requests += pruned.recording_requests;
        total.sessions += pruned.sessions;
    }

    pub fn saved_to_notified(&self, elapsed: Duration) {
        let mut timing = self.saved_to_notified.lock().unwrap();
        timing.count += 1;
        timing.sum_seconds += elapsed.as_secs_f64();
    }

    /// The exposition text.
    pub async fn render(&self, db: &Db) -> Result<String, sqlx::Error> {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP meet_recorder_recordings Recordings by status.");
        let _ = writeln!(out, "# TYPE meet_recorder_recordings gauge");
        for (status, count) in db.recording_counts().await? {
            let _ = writeln!(
                out,
                "meet_recorder_recordings{{status=\"{status}\"}} {count}"
            );
        }
        let depth = db.queue_depth().await?;
        let _ = writeln!(out, "# HELP meet_recorder_jobs Background jobs by status.");
        let _ = writeln!(out, "# TYPE meet_recorder_jobs gauge");
        for (status, count) in [
            ("queued", depth.queued),
            ("running", depth.running),
            ("dead", depth.dead),
        ] {
            let _ = writeln!(out, "meet_recorder_jobs{{status=\"{status}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP meet_recorder_webhooks_total LiveKit webhooks received, by result."
        );
        let _ = writeln!(out, "# TYPE meet_recorder_webhooks_total counter");
        for (result, count) in self.webhooks.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "meet_recorder_webhooks_total{{result=\"{result}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP meet_recorder_job_failures_total Failed job attempts, by kind."
        );
        let _ = writeln!(out, "# TYPE meet_recorder_job_failures_total counter");
        for (kind, count) in self.job_failures.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "meet_recorder_job_failures_total{{kind=\"{kind}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP meet_recorder_pruned_rows_total Rows removed by age, by table."
        );
        let _ = writeln!(out, "# TYPE meet_recorder_pruned_rows_total counter");
        let pruned = *self.pruned.lock().unwrap();
        for (table, count) in [
            ("webhook_events", pruned.webhook_events),
            ("recording_requests", pruned.recording_requests),
            ("sessions", pruned.sessions),
        ] {
            let _ = writeln!(
                out,
                "meet_recorder_pruned_rows_total{{table=\"{table}\"}} {count}"
            );
        }
        for (name, help, timing) in [
            (
                "meet_recorder_stop_to_saved_seconds",
                "Time from the egress stopping to the recording saved.",
                *self.stop_to_saved.lock().unwrap(),
            ),
            (
                "meet_recorder_saved_to_notified_seconds",
                "Time from the recording saved to every owner emailed.",
                *self.saved_to_notified.lock().unwrap(),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} summary");
            let _ = writeln!(out, "{name}_sum {}", timing.sum_seconds);
            let _ = writeln!(out, "{name}_count {}", timing.count);
        }
        Ok(out)
    }
}
