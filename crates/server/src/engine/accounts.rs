//! Local accounts: argon2 password hashes, random session and API tokens stored hashed
//! (API tokens may expire). The HTTP extractors that find the signed-in user are in
//! `crate::http::auth`.
//!
//! Signing in is guarded by [`LoginGuard`]: password hashes are verified on one dedicated
//! thread that reuses its memory; an unknown email costs the same verification as a known
//! one; failures are limited per account and per client address, and attempts (failed or
//! not) per client address and minute.

use std::{
    collections::{HashMap, VecDeque},
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::adapters::db::now_ms;

pub const SESSION_COOKIE: &str = "meet_recorder_session";
/// API tokens carry a prefix so they are recognisable in logs and secret scanners.
pub const API_TOKEN_PREFIX: &str = "mrt_";

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash password: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`verify_password`] in `memory`, grown to the hash's cost once and reused after: each
/// verification allocating its own 19 MiB left the allocator holding more and more of
/// them (19 MiB per sign-in until a plateau near 400 MiB).
fn verify_password_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let blocks = params.block_count();
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut output,
            &mut memory[..blocks],
        )
        .is_ok()
        && bool::from(output.as_slice().ct_eq(expected.as_bytes()))
}

/// A fresh random token (256 bits, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The longest validity a new API token may be given, in days (`expires_in_days`).
pub const MAX_TOKEN_EXPIRY_DAYS: i64 = 3650;
const DAY_MS: i64 = 86_400_000;

/// The expiry (Unix ms) of a token created now, valid `days` days; none without `days`.
pub fn token_expiry(days: Option<i64>) -> Result<Option<i64>, String> {
    match days {
        None => Ok(None),
        Some(days) if (1..=MAX_TOKEN_EXPIRY_DAYS).contains(&days) => {
            Ok(Some(now_ms() + days * DAY_MS))
        }
        Some(_) => Err(format!(
            "expires_in_days must be between 1 and {MAX_TOKEN_EXPIRY_DAYS}."
        )),
    }
}

// ----- Signing in: bounded password hashing, the same work for everyone, limits -------

/// Threads that verify passwords, the only ones that do. argon2's default costs 19 MiB
/// and about 20 ms a hash: on the async executor, 32 concurrent sign-ins took 250 MiB and
/// more and stalled every other request for 300 ms. One dedicated thread, reusing one
/// 19 MiB buffer ([`verify_password_in`]), bounds both whatever the number of sign-ins:
/// the executor stays free and memory stays near 50 MiB. (A fresh buffer per hash, even
/// two at a time, let the allocator keep 19 MiB more per sign-in up to ~400 MiB.) One, not
/// two: even in the idle scheduling class two threads hashing through a flood took most of
/// a core and doubled the webhooks' p99 on two cores. Shared by the whole process.
const HASHING_THREADS: usize = 1;
/// The hashing thread works one part of its time in this many and rests the others: a
/// quarter of one core at most, about 12 sign-ins a second. argon2 is memory-bound, and
/// even in the idle scheduling class, hashing all the time through a flood of sign-ins
/// slowed the rest of the service: `/healthz`'s p99 went from 1 to 3.5 ms hashing half the
/// time, 2.6 ms a quarter (and stayed at 0.5 ms with no hashing at all).
const HASHING_DUTY_DIVISOR: u32 = 4;
/// Sign-ins in flight (queued or hashing) beyond which one is refused (503) rather than
/// queued: the queue stays under about five seconds (64 × 80 ms).
const MAX_HASHES_IN_FLIGHT: usize = 64;
/// How long a refused sign-in (too many failures, too many sign-ins at once) waits before
/// its answer. A refusal costs the service almost nothing, so a client that retries at
/// once would make it a flood: 32 connections signing in got 13,000 refusals a second,
/// and serving them took the CPU LiveKit's webhooks needed (their p99 tripled). Paused,
/// each connection gets one a second; a person refused does not notice the second.
pub const REFUSAL_PAUSE: Duration = Duration::from_secs(1);
/// The sliding window sign-in failures are counted over.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins per client address (any account; IPv6 per /64) within the window.
/// Beyond, the address is answered 429 until its oldest failure leaves the window.
pub const ADDRESS_MAX_FAILURES: usize = 20;
/// Failed sign-ins per account (from any address, unknown emails alike) within the window.
/// Higher than the per-address limit, so one address alone never locks an account: it
/// takes a guess spread over several addresses (≤ 50 guesses per 15 minutes).
pub const ACCOUNT_MAX_FAILURES: usize = 50;
/// What the sign-in attempts per client address are counted per: a client may make
/// `MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE` at once, then one every minute divided by
/// that many (a token bucket, so a sustained flood gets a steady trickle of password
/// checks, never a burst each minute). Failures alone do not bound the
/// work one address can ask for: a client signing in again and again with a valid
/// password never fails, and each sign-in costs a password verification. 32 connections
/// doing that kept the hashing thread busy, and on two cores even a thread in the idle
/// scheduling class slows the others: `/healthz`'s p99 went from 0.5 to 2.5 ms, as it did
/// beside a separate process that only spun in the idle class a quarter of the time (0.5
/// to 1.2 ms → 2.4 to 3.0 ms). No priority hides the work; only less of it does.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Accounts and addresses each tracked at once; beyond, the stalest are forgotten, so
/// memory stays bounded (about 10 MB at worst) whatever an attacker sends.
const LIMITER_MAX_KEYS: usize = 10_000;

type HashJob = Box<dyn FnOnce() + Send>;

/// The queue of the [`HASHING_THREADS`] hashing threads, started on first use.
static HASHERS: LazyLock<std::sync::mpsc::Sender<HashJob>> = LazyLock::new(|| {
    let (sender, receiver) = std::sync::mpsc::channel::<HashJob>();
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..HASHING_THREADS {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("password-hash-{n}"))
            .spawn(move || {
                lower_to_idle_priority();
                loop {
                    let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(job) = job else { break };
                    let started = Instant::now();
                    // A job that panics drops its answer (the sign-in fails with a 500);
                    // the thread goes on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    // Rests three times as long as it worked (see [`HASHING_DUTY_DIVISOR`]).
                    std::thread::sleep(started.elapsed() * (HASHING_DUTY_DIVISOR - 1));
                }
            })
            .expect("start a password hashing thread");
    }
    sender
});
/// Puts the calling hashing thread in Linux's idle scheduling class (`SCHED_IDLE`): it runs
/// only on CPU time no other thread wants, and gives way at once when one does. A flood of
/// sign-ins then slows sign-ins, not LiveKit's webhooks or health checks. (At nice 10 a
/// flood took about a tenth of the CPU from the service's threads; at nice 19 it still
/// doubled `/healthz`'s p99, the hashing thread keeping the CPU for its time slice.) Where
/// the idle class is refused, nice 19 is the next best.
fn lower_to_idle_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let lowest_nice = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
    if let Err(error) =
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle).or_else(
            |_| {
                set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, lowest_nice)
            },
        )
    {
        tracing::debug!(?error, "cannot lower the password hashing priority");
    }
}

static HASHES_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// What an unknown email (or an account without a password) is verified against: a hash
/// with the same parameters as real ones, of a random password nobody knows.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&new_token()).expect("hash a random password"));

/// Why a password could not be verified.
#[derive(Debug)]
pub enum VerifyError {
    /// Too many sign-ins in flight; try again in a second.
    Busy,
    /// The hashing job failed (panicked).
    Failed,
}

/// A place among the sign-ins in flight ([`MAX_HASHES_IN_FLIGHT`]), taken before any work
/// is done for a sign-in, so that one beyond the limit costs no database lookup; given back
/// once its verification is done (or it is dropped unused).
pub struct HashSlot(());

impl Drop for HashSlot {
    fn drop(&mut self) {
        HASHES_IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A place for one more verification; [`VerifyError::Busy`] when too many are in flight.
pub fn reserve_hash() -> Result<HashSlot, VerifyError> {
    if HASHES_IN_FLIGHT.fetch_add(1, Ordering::AcqRel) >= MAX_HASHES_IN_FLIGHT {
        HASHES_IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
        return Err(VerifyError::Busy);
    }
    Ok(HashSlot(()))
}

/// Queues `job` on the hashing threads in `slot`; the receiver gets its answer. The job
/// runs even if nobody waits for it any more (a client that hangs up), and holds its slot
/// until it is done.
fn enqueue_hash<T: Send + 'static>(
    slot: HashSlot,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<tokio::sync::oneshot::Receiver<T>, VerifyError> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    HASHERS
        .send(Box::new(move || {
            let _slot = slot;
            let _ = answer.send(job());
        }))
        .map_err(|_| VerifyError::Failed)?;
    Ok(answered)
}

/// Verifies `password` against `hash` on the hashing threads, at most [`HASHING_THREADS`]
/// at once. Without a hash (an unknown email, an account without a password) it verifies
/// against a dummy hash and answers false: the same work and time, so timing does not tell
/// whether an account exists.
pub async fn verify_password_bounded(
    slot: HashSlot,
    password: String,
    hash: Option<String>,
) -> Result<bool, VerifyError> {
    thread_local! {
        /// A hashing thread's argon2 memory, reused by every verification it runs.
        static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    enqueue_hash(slot, move || {
        MEMORY.with_borrow_mut(|memory| match hash {
            Some(hash) => verify_password_in(&password, &hash, memory),
            None => {
                verify_password_in(&password, &DUMMY_HASH, memory);
                false
            }
        })
    })?
    .await
    .map_err(|_| VerifyError::Failed)
}

/// One application's sign-in limits and counters (see the module documentation).
pub struct LoginGuard {
    limits: Mutex<Limits>,
    verifications: AtomicU64,
}

struct Limits {
    /// Failures per account, keyed by the SHA-256 of the normalised email: 32 bytes
    /// whatever was sent.
    account_failures: EventLog<[u8; 32]>,
    address_failures: EventLog<IpAddr>,
    /// Attempts per address, successful or not.
    address_attempts: AttemptRate,
}

/// An admitted sign-in attempt: counted as a failure from the start (so a burst of
/// concurrent guesses is limited too) until [`LoginGuard::forgive`] takes it back, and as
/// an attempt unless [`LoginGuard::withdraw`] takes it back.
#[derive(Debug)]
pub struct Attempt {
    account: [u8; 32],
    address: IpAddr,
    at: Instant,
}

/// Why a sign-in is refused before any work is done for it, and how long until the
/// client may try again.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The account or the address failed too often within [`LOGIN_WINDOW`].
    TooManyFailures(Duration),
    /// The address attempted sign-ins faster than its rate allows.
    TooManyAttempts(Duration),
}

impl Refusal {
    pub fn wait(&self) -> Duration {
        match self {
            Refusal::TooManyFailures(wait) | Refusal::TooManyAttempts(wait) => *wait,
        }
    }
}

impl LoginGuard {
    /// A guard admitting `attempts_per_minute` sign-ins per client address at once, then
    /// one every [`ATTEMPT_WINDOW`] divided by that many.
    pub fn new(attempts_per_minute: usize) -> Self {
        // The dummy hash is made ahead of the first unknown email (whose answer would
        // otherwise take twice as long, telling it apart).
        if let Ok(slot) = reserve_hash() {
            let _ = enqueue_hash(slot, || LazyLock::force(&DUMMY_HASH).len());
        }
        Self {
            limits: Mutex::new(Limits {
                account_failures: EventLog::new(ACCOUNT_MAX_FAILURES, LOGIN_WINDOW),
                address_failures: EventLog::new(ADDRESS_MAX_FAILURES, LOGIN_WINDOW),
                address_attempts: AttemptRate::new(attempts_per_minute),
            }),
            verifications: AtomicU64::new(0),
        }
    }

    /// Admits a sign-in for `email` from `client`, or says how long until it may be tried.
    pub fn admit(&self, email: &str, client: IpAddr) -> Result<Attempt, Refusal> {
        self.admit_at(email, client, Instant::now())
    }

    fn admit_at(&self, email: &str, client: IpAddr, now: Instant) -> Result<Attempt, Refusal> {
        let attempt = Attempt {
            account: Sha256::digest(email.trim().to_lowercase().as_bytes()).into(),
            address: address_key(client),
            at: now,
        };
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let failures_wait = [
            limits.account_failures.blocked_for(&attempt.account, now),
            limits.address_failures.blocked_for(&attempt.address, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = failures_wait {
            return Err(Refusal::TooManyFailures(wait));
        }
        if let Some(wait) = limits.address_attempts.blocked_for(&attempt.address, now) {
            return Err(Refusal::TooManyAttempts(wait));
        }
        limits.account_failures.record(attempt.account, now);
        limits.address_failures.record(attempt.address, now);
        limits.address_attempts.record(attempt.address, now);
        Ok(attempt)
    }

    /// Takes back the failure of an attempt that did not fail (a valid password); it still
    /// counts as an attempt.
    pub fn forgive(&self, attempt: &Attempt) {
        self.take_back(attempt, false);
    }

    /// Takes back an attempt whose password was never verified (a busy server, a database
    /// error): neither a failure nor an attempt.
    pub fn withdraw(&self, attempt: &Attempt) {
        self.take_back(attempt, true);
    }

    fn take_back(&self, attempt: &Attempt, as_attempt_too: bool) {
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        limits.account_failures.forget(&attempt.account, attempt.at);
        limits.address_failures.forget(&attempt.address, attempt.at);
        if as_attempt_too {
            limits.address_attempts.forget(&attempt.address);
        }
    }

    /// [`verify_password_bounded`], counted.
    pub async fn verify(
        &self,
        slot: HashSlot,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, VerifyError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        verify_password_bounded(slot, password, hash).await
    }

    /// Password verifications run so far (known and unknown emails alike).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

/// One client for the limits: an IPv4 address, or an IPv6 /64 (what one host usually has).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Sign-in attempts per client address, as a token bucket in the form of the generic cell
/// rate algorithm: one instant per address, the time its bucket would be full again.
struct AttemptRate {
    full_at: HashMap<IpAddr, Instant>,
    /// Minute / attempts per minute: the time one attempt takes to be earned back.
    interval: Duration,
    /// How far ahead of now `full_at` may run: the bucket's size less one attempt.
    tolerance: Duration,
}

impl AttemptRate {
    fn new(per_minute: usize) -> Self {
        let per_minute = u32::try_from(per_minute.max(1)).unwrap_or(u32::MAX);
        let interval = ATTEMPT_WINDOW / per_minute;
        Self {
            full_at: HashMap::new(),
            interval,
            tolerance: interval * (per_minute - 1),
        }
    }

    /// How long until `key` may attempt again, when its bucket is empty.
    fn blocked_for(&self, key: &IpAddr, now: Instant) -> Option<Duration> {
        let next = self.full_at.get(key)?.checked_sub(self.tolerance)?;
        (next > now).then(|| next - now)
    }

    fn record(&mut self, key: IpAddr, now: Instant) {
        if !self.full_at.contains_key(&key) && self.full_at.len() >= LIMITER_MAX_KEYS {
            // A full bucket is the same as no entry.
            self.full_at.retain(|_, full_at| *full_at > now);
            if self.full_at.len() >= LIMITER_MAX_KEYS
                && let Some(soonest) = self
                    .full_at
                    .iter()
                    .min_by_key(|(_, full_at)| **full_at)
                    .map(|(key, _)| *key)
            {
                self.full_at.remove(&soonest);
            }
        }
        let full_at = self.full_at.entry(key).or_insert(now);
        *full_at = (*full_at).max(now) + self.interval;
    }

    /// Gives back one attempt.
    fn forget(&mut self, key: &IpAddr) {
        if let Some(full_at) = self.full_at.get_mut(key) {
            *full_at = full_at.checked_sub(self.interval).unwrap_or(*full_at);
        }
    }
}

/// Events (failures, attempts) per key over a sliding window, at most `max` counted per
/// key and [`LIMITER_MAX_KEYS`] keys.
struct EventLog<K> {
    times: HashMap<K, VecDeque<Instant>>,
    max: usize,
    window: Duration,
}

impl<K: Hash + Eq + Clone> EventLog<K> {
    fn new(max: usize, window: Duration) -> Self {
        Self {
            times: HashMap::new(),
            max,
            window,
        }
    }

    /// How long until `key` may try again, when it used up its events.
    fn blocked_for(&mut self, key: &K, now: Instant) -> Option<Duration> {
        let window = self.window;
        let times = self.times.get_mut(key)?;
        prune(times, now, window);
        if times.is_empty() {
            self.times.remove(key);
            return None;
        }
        (times.len() >= self.max).then(|| (times[0] + window).saturating_duration_since(now))
    }

    fn record(&mut self, key: K, now: Instant) {
        if !self.times.contains_key(&key) && self.times.len() >= LIMITER_MAX_KEYS {
            let window = self.window;
            self.times.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
            if self.times.len() >= LIMITER_MAX_KEYS
                && let Some(stalest) = self
                    .times
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(key, _)| key.clone())
            {
                self.times.remove(&stalest);
            }
        }
        let times = self.times.entry(key).or_default();
        prune(times, now, self.window);
        times.push_back(now);
        // Only whether the limit is reached matters: never keep more than that.
        while times.len() > self.max {
            times.pop_front();
        }
    }

    fn forget(&mut self, key: &K, at: Instant) {
        if let Some(times) = self.times.get_mut(key) {
            if let Some(index) = times.iter().rposition(|t| *t == at) {
                times.remove(index);
            }
            if times.is_empty() {
                self.times.remove(key);
            }
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|at| now.saturating_duration_since(*at) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_tokens_are_distinct() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
        let mut memory = Vec::new();
        assert!(verify_password_in("correct horse", &hash, &mut memory));
        assert!(!verify_password_in("wrong", &hash, &mut memory));
        assert!(!verify_password_in("x", "not a hash", &mut memory));
        assert_eq!(memory.len(), Params::default().block_count());
        assert_ne!(new_token(), new_token());
        assert_eq!(token_hash("a").len(), 64);
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_refused_after_its_failures_and_others_are_not() {
        let guard = LoginGuard::new(1000);
        let start = Instant::now();
        for n in 0..ADDRESS_MAX_FAILURES {
            let email = format!("user{n}@example.com");
            assert!(guard.admit_at(&email, ip("203.0.113.7"), start).is_ok());
        }
        let wait = guard
            .admit_at(
                "fresh@example.com",
                ip("203.0.113.7"),
                start + Duration::from_secs(60),
            )
            .unwrap_err();
        assert_eq!(
            wait,
            Refusal::TooManyFailures(LOGIN_WINDOW - Duration::from_secs(60))
        );
        assert!(
            guard
                .admit_at("fresh@example.com", ip("203.0.113.8"), start)
                .is_ok()
        );
        // Once the window has passed, the address may try again.
        assert!(
            guard
                .admit_at("fresh@example.com", ip("203.0.113.7"), start + LOGIN_WINDOW)
                .is_ok()
        );
    }

    #[test]
    fn an_account_is_refused_after_its_failures_and_forgiven_attempts_do_not_count() {
        let guard = LoginGuard::new(1000);
        let start = Instant::now();
        let attempt = guard
            .admit_at("A@example.com", ip("10.0.0.1"), start)
            .unwrap();
        guard.forgive(&attempt);
        for n in 0..ACCOUNT_MAX_FAILURES {
            let client = IpAddr::from([10, 0, (n / 250) as u8, (n % 250) as u8 + 1]);
            assert!(
                guard.admit_at(" a@example.com", client, start).is_ok(),
                "{n}"
            );
        }
        assert!(
            guard
                .admit_at("a@example.com", ip("10.9.9.9"), start)
                .is_err()
        );
        assert!(
            guard
                .admit_at("b@example.com", ip("10.9.9.9"), start)
                .is_ok()
        );
    }

    #[test]
    fn an_address_gets_its_attempts_at_once_then_one_at_a_time_failed_or_not() {
        // Three at once, then one every 20 s.
        let guard = LoginGuard::new(3);
        let start = Instant::now();
        let client = ip("198.51.100.4");
        let at = |seconds| start + Duration::from_secs(seconds);
        // Two valid passwords and one sign-in the busy server never verified.
        for _ in 0..2 {
            let attempt = guard.admit_at("a@example.com", client, start).unwrap();
            guard.forgive(&attempt);
        }
        let unverified = guard.admit_at("a@example.com", client, start).unwrap();
        guard.withdraw(&unverified);
        guard.admit_at("b@example.com", client, at(10)).unwrap();
        assert_eq!(
            guard.admit_at("a@example.com", client, at(10)).unwrap_err(),
            Refusal::TooManyAttempts(Duration::from_secs(10))
        );
        assert!(
            guard
                .admit_at("a@example.com", ip("198.51.100.5"), at(10))
                .is_ok()
        );
        guard.admit_at("a@example.com", client, at(20)).unwrap();
        assert_eq!(
            guard.admit_at("a@example.com", client, at(20)).unwrap_err(),
            Refusal::TooManyAttempts(Duration::from_secs(20))
        );
        // A minute of rest fills the bucket again: three at once.
        for _ in 0..3 {
            guard.admit_at("c@example.com", client, at(100)).unwrap();
        }
        assert!(guard.admit_at("c@example.com", client, at(100)).is_err());
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_the_limiter_stays_bounded() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:3:4:5:6")),
            ip("2001:db8:1:2::")
        );
        let mut log = EventLog::new(1, LOGIN_WINDOW);
        let start = Instant::now();
        for n in 0..LIMITER_MAX_KEYS + 100 {
            log.record(n, start + Duration::from_millis(n as u64));
        }
        assert_eq!(log.times.len(), LIMITER_MAX_KEYS);
        // The stalest were forgotten, the latest kept.
        assert!(log.times.contains_key(&(LIMITER_MAX_KEYS + 99)));
        assert!(!log.times.contains_key(&0));
    }
}
