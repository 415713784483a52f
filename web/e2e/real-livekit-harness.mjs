// What the real-media browser tests run against: the real LiveKit server (with its own
// Redis, scripts/livekit-server.sh) and `meet-recorder serve` pointed at it, on SQLite or
// a fresh PostgreSQL database (MEETREC_TEST_DATABASE), Debian's Chromium with a fake camera
// and microphone, and participant bots on LiveKit's Python real-time SDK.
//
// WebRTC needs a non-loopback interface with a default route, so all of it runs inside the
// private network namespace of scripts/netns.sh (MEETREC_NETNS_IP is set there); nothing
// leaves the machine. Outside it the tests are skipped (see IN_NETNS).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { freePort, launchBrowser, postgresDatabase } from './harness.mjs';

const repo = resolve(import.meta.dirname, '..', '..');
const cache = process.env.MEETREC_CACHE_DIR ?? join(homedir(), '.cache', 'meet-recorder');
const PYTHON = process.env.MEETREC_TEST_PYTHON ?? join(cache, 'venv', 'bin', 'python');
const BOT = join(repo, 'crates', 'server', 'tests', 'participants', 'bot.py');
const LIVEKIT_SCRIPT = join(repo, 'scripts', 'livekit-server.sh');

/** Whether we run inside scripts/netns.sh, where WebRTC media can flow. */
export const IN_NETNS = Boolean(process.env.MEETREC_NETNS_IP);

/** The signed-in host of every test. */
export const HOST = {
  email: 'host@example.com',
  password: 'real-livekit-host-password',
  name: 'Hana Host',
};

/** Chromium's flags for real media: IP candidates, and a fake camera and microphone. */
const MEDIA_FLAGS = [
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

export function launchMediaBrowser() {
  return launchBrowser(MEDIA_FLAGS);
}

/** `export NAME="value"` lines (what scripts/livekit-server.sh prints) as an object. */
function parseExports(text) {
  const env = {};
  for (const match of text.matchAll(/^export (\w+)="([^"]*)"$/gm)) env[match[1]] = match[2];
  return env;
}

async function waitUntil(what, check, { timeout = 60_000, interval = 100, output = () => '' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeout} ms\n${output()}`);
    await new Promise((done) => setTimeout(done, interval));
  }
}

/** Whether process `pid` still runs (a zombie nobody reaps has ended). */
function running(pid) {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Ends a process started in the background (no handle on its exit): TERM, then KILL. */
async function endProcess(pid) {
  if (!running(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
    await waitUntil(`process ${pid} ended`, () => !running(pid), { timeout: 5_000 });
  } catch {
    if (running(pid)) process.kill(pid, 'SIGKILL');
  }
}

/**
 * Starts the real LiveKit server (its webhooks pointed at the service), `meet-recorder
 * serve` on a free port with recording enabled, and the host's account. Returns
 * `{ url, api, dir, storageDir, livekit, output(), stop() }`: `url` is the browsers' base
 * URL (localhost, a secure context for camera and microphone), `api` the API base for
 * Node's own requests, `storageDir` where recordings are stored (no S3), `livekit` what
 * scripts/livekit-server.sh printed (`MEETREC_LIVEKIT_*`, Redis included) and its `dir`.
 */
export async function startStack(settings = {}) {
  const binary = process.env.MEETREC_BIN ?? join(repo, 'target', 'debug', 'meet-recorder');
  const dir = mkdtempSync(join(tmpdir(), 'meetrec-real-e2e-'));
  const port = await freePort();
  const webhook = `http://127.0.0.1:${port}/api/v1.0/rooms/webhooks-livekit/`;
  const livekitDir = join(dir, 'livekit');
  const stopLiveKit = async () => {
    const pids = ['livekit.pid', 'redis.pid']
      .map((file) => join(livekitDir, file))
      .filter((file) => existsSync(file))
      .map((file) => Number(readFileSync(file, 'utf8').trim()));
    try {
      execFileSync(LIVEKIT_SCRIPT, ['stop', livekitDir], { stdio: 'ignore' });
    } catch {
      // Whatever the script left running is ended below, by its own process ids.
    }
    await Promise.all(pids.map(endProcess));
  };
  let livekit = null;
  let postgres = null;
  let child = null;
  let output = '';
  let exited = Promise.resolve();
  const stop = async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await stopLiveKit();
    postgres?.drop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // Without a worker: the script would start one when MEETREC_EGRESS_WORKER is set, and
    // the tests choose when there is one (startEgressWorker).
    const { MEETREC_EGRESS_WORKER: _worker, ...scriptEnv } = process.env;
    const printed = execFileSync(LIVEKIT_SCRIPT, ['start', livekitDir, webhook], {
      encoding: 'utf8',
      env: scriptEnv,
    });
    livekit = { dir: livekitDir, ...parseExports(printed) };
    postgres = process.env.MEETREC_TEST_DATABASE === 'postgres' ? postgresDatabase() : null;
    const env = {
      ...process.env,
      DATABASE_URL: postgres ? postgres.url : `sqlite://${join(dir, 'meet-recorder.db')}`,
      MEET_RECORDER_LISTEN: `127.0.0.1:${port}`,
      MEET_RECORDER_PUBLIC_URL: `http://localhost:${port}`,
      RECORDING_ENABLE: 'true',
      LIVEKIT_API_URL: livekit.MEETREC_LIVEKIT_API_URL,
      LIVEKIT_URL: livekit.MEETREC_LIVEKIT_WS_URL,
      LIVEKIT_API_KEY: livekit.MEETREC_LIVEKIT_API_KEY,
      LIVEKIT_API_SECRET: livekit.MEETREC_LIVEKIT_API_SECRET,
      MEET_RECORDER_STORAGE_DIR: join(dir, 'egress'),
      EMAIL_BACKEND: 'console',
      RUST_LOG: process.env.RUST_LOG ?? 'info',
      ...settings,
    };
    child = spawn(binary, ['serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    exited = new Promise((done) => child.once('exit', done));

    const api = `http://127.0.0.1:${port}/api/v1.0`;
    await waitUntil(
      'meet-recorder serve ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`meet-recorder serve exited:\n${output}`);
        return fetch(`http://127.0.0.1:${port}/readyz`).then(
          (response) => response.ok,
          () => false,
        );
      },
      { output: () => output },
    );
    execFileSync(binary, ['users', 'create', HOST.email, '--password-stdin', '--name', HOST.name], {
      cwd: dir,
      env,
      input: `${HOST.password}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    return {
      url: `http://localhost:${port}`,
      api,
      dir,
      storageDir: env.MEET_RECORDER_STORAGE_DIR,
      livekit,
      output: () => output,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A room's public description (`id`, `slug`, ...), asked for as a signed-out guest. */
export async function guestRoom(stack, slug) {
  const response = await fetch(`${stack.api}/rooms/${encodeURIComponent(slug)}/`);
  if (!response.ok) throw new Error(`GET rooms/${slug}/: ${response.status} ${await response.text()}`);
  return response.json();
}

/**
 * A real participant: bot.py joins the room with a guest token from the service's own
 * endpoint and publishes `publish`. Returns `{ identity, events, waitFor(predicate),
 * leave() }`; `events` are the JSON lines it printed (see bot.py).
 */
export async function startBot(stack, roomId, name, { publish = 'camera,microphone' } = {}) {
  const response = await fetch(`${stack.api}/rooms/${roomId}/token/?name=${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`token for ${name}: ${response.status} ${await response.text()}`);
  const { url, token } = await response.json();
  const child = spawn(PYTHON, [BOT, '--url', url, '--token', token, '--publish', publish], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const events = [];
  let stderr = '';
  const waiters = new Set();
  const exited = new Promise((done) => child.once('exit', done));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      stderr += `${line}\n`;
      return;
    }
    events.push(event);
    for (const waiter of waiters) waiter();
  });
  const bot = {
    name,
    events,
    /** The first event matching `predicate`, waiting up to `timeout` ms for it. */
    waitFor(predicate, timeout = 30_000) {
      return new Promise((done, fail) => {
        const check = () => {
          const found = events.find(predicate);
          if (!found) {
            if (child.exitCode !== null) finish(new Error(`bot ${name} exited first`));
            return;
          }
          finish(null, found);
        };
        const timer = setTimeout(() => finish(new Error(`bot ${name}: no matching event in ${timeout} ms`)), timeout);
        const finish = (error, found) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) {
            error.message += `\nevents: ${events.map((e) => JSON.stringify(e)).join('\n')}\nstderr: ${stderr}`;
            fail(error);
          } else done(found);
        };
        waiters.add(check);
        check();
      });
    },
    async leave() {
      if (child.exitCode !== null) return;
      child.stdin.end('leave\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  child.once('exit', () => waiters.forEach((waiter) => waiter()));
  const connected = await bot.waitFor((e) => e.event === 'connected' || e.event === 'connect_failed');
  if (connected.event === 'connect_failed') throw new Error(`bot ${name} could not connect: ${connected.error}`);
  bot.identity = connected.identity;
  return bot;
}

const EGRESS_WORKER_DIR = join(repo, 'tools', 'egress-worker');

/**
 * Starts the egress worker against the stack's LiveKit (its Redis), writing files where the
 * service looks for them (MEET_RECORDER_STORAGE_DIR), and waits until LiveKit can reach it.
 * Returns `{ admin, output(), stop() }`.
 */
export async function startEgressWorker(stack) {
  // scripts/test.sh builds it once; otherwise it is built here from Go's cache.
  let binary = process.env.MEETREC_TEST_EGRESS_WORKER;
  if (!binary || !existsSync(binary)) {
    binary = join(stack.dir, 'egress-worker');
    // No network in the namespace: the module cache (filled by the LiveKit server's build)
    // must have everything.
    execFileSync('go', ['build', '-o', binary, '.'], {
      cwd: EGRESS_WORKER_DIR,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  const child = spawn(
    binary,
    // The browser tests stop their recordings by hand: a session limit far beyond any test
    // (the worker's default is 30 s) keeps a slow run from ending one first, which made the
    // host's Stop button vanish before it was clicked.
    [
      '--redis',
      stack.livekit.MEETREC_LIVEKIT_REDIS,
      '--local-dir',
      stack.storageDir,
      '--admin',
      '127.0.0.1:0',
      '--max-duration',
      '10m',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let admin = null;
  let ready = false;
  child.stderr.on('data', (chunk) => (output += chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    output += `${line}\n`;
    if (line.startsWith('admin=')) admin = line.slice('admin='.length);
    if (line === 'ready') ready = true;
  });
  const exited = new Promise((done) => child.once('exit', done));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntil(
      'the egress worker ready',
      () => {
        if (child.exitCode !== null) throw new Error(`the egress worker exited:\n${output}`);
        return ready;
      },
      { timeout: 30_000, output: () => output },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { admin, output: () => output, stop };
}
