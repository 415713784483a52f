// What the browser tests run against: the real `meet-recorder dev` binary (service, LiveKit
// emulator, built UI, local storage, console mailer) on free loopback ports, on SQLite or
// on a fresh PostgreSQL database (MEETREC_TEST_DATABASE), and Debian's Chromium driven by
// playwright-core.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const repo = resolve(import.meta.dirname, '..', '..');

export const DEMO = { email: 'demo@example.com', password: 'meet-recorder-demo' };

/** Screenshots land here; CI keeps the folder as the run's artifacts. */
export const ARTIFACTS = resolve(process.env.MEETREC_E2E_ARTIFACTS ?? join(repo, 'target', 'e2e-artifacts'));
mkdirSync(ARTIFACTS, { recursive: true });

/** Each test run's own database, so the two backends never share state. */
const database = process.env.MEETREC_TEST_DATABASE ?? 'sqlite';

/** A TCP port free on loopback right now. */
export async function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * A fresh, uniquely named PostgreSQL database, created and dropped through the admin URL in
 * MEETREC_TEST_POSTGRES_URL (by default `postgres` on 127.0.0.1:5432; inside
 * scripts/netns.sh, the Unix socket). Returns `{ url, drop() }`.
 */
export function postgresDatabase() {
  const admin = process.env.MEETREC_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `meetrec_test_e2e_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const url = new URL(admin);
  url.pathname = `/${name}`;
  execFileSync('psql', [admin, '-qc', `CREATE DATABASE ${name}`]);
  return {
    url: url.toString(),
    drop: () => execFileSync('psql', [admin, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]),
  };
}

/**
 * Starts `meet-recorder dev` in a fresh directory with `settings` added to its environment
 * and waits until it is ready. Returns `{ url, livekitUrl, output(), stop() }`.
 */
export async function startDev(settings = {}) {
  const binary = process.env.MEETREC_BIN ?? join(repo, 'target', 'debug', 'meet-recorder');
  const dir = mkdtempSync(join(tmpdir(), 'meetrec-e2e-'));
  // A test may have chosen the port (a provider needs the service's URL first).
  const port = settings.MEET_RECORDER_LISTEN?.split(':').pop() ?? (await freePort());
  const livekitPort = await freePort();
  const postgres = database === 'postgres' ? postgresDatabase() : null;
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    MEET_RECORDER_LISTEN: `127.0.0.1:${port}`,
    MEET_RECORDER_PUBLIC_URL: url,
    MEET_RECORDER_SWEEP_INTERVAL_MS: '250',
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
    ...(postgres ? { DATABASE_URL: postgres.url } : {}),
    ...settings,
  };
  const child = spawn(binary, ['dev', '--livekit-bind', `127.0.0.1:${livekitPort}`], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((done) => child.once('exit', done));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`meet-recorder dev exited:\n${output}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`meet-recorder dev did not get ready:\n${output}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  return {
    url,
    livekitUrl: `http://127.0.0.1:${livekitPort}`,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The OpenID Connect provider of `oidc-provider.mjs` on loopback, with `app` (the service's
 * base URL) as its client and `accounts` (login → claims) as the people it knows.
 * Returns `{ issuer, settings, stop() }`; `settings` make `meet-recorder` sign in through it.
 */
export async function startOidcProvider(app, accounts) {
  const dir = mkdtempSync(join(tmpdir(), 'meetrec-oidc-'));
  const accountsFile = join(dir, 'accounts.json');
  writeFileSync(accountsFile, JSON.stringify(accounts));
  const child = spawn(process.execPath, [join(import.meta.dirname, 'oidc-provider.mjs')], {
    env: {
      ...process.env,
      OIDC_TEST_PORT: '0',
      OIDC_TEST_REDIRECT_URI: `${app}/api/v1.0/callback/`,
      OIDC_TEST_POST_LOGOUT_URI: `${app}/`,
      OIDC_TEST_ACCOUNTS: accountsFile,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const firstLine = await new Promise((done, fail) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      if (text.includes('\n')) done(text.split('\n')[0]);
    });
    child.once('exit', (code) => fail(new Error(`the OpenID provider exited (${code})`)));
  });
  const { issuer } = JSON.parse(firstLine);
  return {
    issuer,
    settings: {
      OIDC_OP_URL: issuer,
      OIDC_RP_CLIENT_ID: 'meet-recorder',
      OIDC_RP_CLIENT_SECRET: 'meet-recorder-secret',
      OIDC_RP_SCOPES: 'openid email profile',
    },
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Debian's Chromium, headless, with the flags this sandboxed network needs (and `extraArgs`
 * after them). Playwright gives every launch a fresh, empty user data directory of its own.
 */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.MEETREC_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Media in the test must play without a click.
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}

/** A page in a fresh context (its own cookies) that accepts confirmation prompts. */
export async function newPage(browser, options = {}) {
  const page = await (await browser.newContext(options)).newPage();
  page.on('dialog', (dialog) => dialog.accept());
  return page;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${database}-${name}.png`), fullPage: true });
}

export async function signIn(page, base, { email, password } = DEMO) {
  await page.goto(`${base}/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Recordings' }).waitFor();
}

/** The signed-in host creates a room named `name` and opens it. */
export async function openNewRoom(page, name) {
  await page.getByLabel('Room name').fill(name);
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.getByRole('link', { name }).click();
  await page.getByRole('heading', { name }).waitFor();
}

/**
 * Plays the page's media element (muted, as browsers allow) and returns its state once it
 * has data to play: `{ readyState, duration, error }`.
 */
export async function playMedia(page, selector = '[data-testid="player"]') {
  const media = page.locator(selector);
  await media.waitFor();
  return media.evaluate(
    (element) =>
      new Promise((done) => {
        const report = () =>
          done({
            readyState: element.readyState,
            duration: element.duration,
            error: element.error && element.error.message,
          });
        element.muted = true;
        element.addEventListener('error', report, { once: true });
        const check = () => {
          if (element.readyState >= 2 && element.duration > 0) report();
          else setTimeout(check, 100);
        };
        element.play().catch(() => {});
        check();
        setTimeout(report, 20_000);
      }),
  );
}
