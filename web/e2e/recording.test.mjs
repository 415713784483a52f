// The product as its users meet it, in a real browser against `meet-recorder dev`: a host
// records a room, a guest sees the badge, the owner plays the recording and shares it,
// and the time limit and a failed start are made plain.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  freePort,
  launchBrowser,
  newPage,
  openNewRoom,
  playMedia,
  screenshot,
  signIn,
  startDev,
  startOidcProvider,
} from './harness.mjs';

const TEN_MINUTES_MS = 600_000;

describe('recording a room end to end', () => {
  let dev;
  let browser;
  before(async () => {
    dev = await startDev({ RECORDING_MAX_DURATION: String(TEN_MINUTES_MS) });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('host records, a guest sees it, the owner plays and shares the file', async () => {
    const host = await newPage(browser);

    // Signed out, the app asks to sign in; the demo account is shown in dev mode.
    await host.goto(dev.url);
    await host.waitForURL(/\/signin/);
    await host.getByText('demo@example.com').first().waitFor();
    await screenshot(host, '01-sign-in');
    await signIn(host, dev.url);

    await openNewRoom(host, 'Weekly sync');
    const roomUrl = host.url();
    assert.match(roomUrl, /\/rooms\/weekly-sync/);

    const panel = host.getByRole('region', { name: 'Recording' });
    await panel.getByRole('radio', { name: 'Video recording' }).check();
    await panel.getByLabel('Layout').selectOption('grid');
    await panel.getByText('Maximum duration: 10 min').waitFor();
    await screenshot(host, '02-room-before-recording');

    await panel.getByRole('button', { name: 'Start recording' }).click();
    await panel.getByRole('button', { name: 'Stop recording' }).waitFor({ timeout: 20_000 });
    const badge = host.getByTestId('recording-badge');
    await badge.waitFor();
    assert.match(await badge.innerText(), /Recording in progress/);
    assert.match(await host.getByTestId('recording-countdown').innerText(), /Time left (9:5\d|10:00|09:5\d)/);
    await host.getByTestId('toast').filter({ hasText: 'Recording started' }).waitFor();
    await screenshot(host, '03-room-recording');

    // A guest joining late, signed out, in French, at phone width sees the badge at once.
    const guest = await newPage(browser, { locale: 'fr-FR', viewport: { width: 375, height: 740 } });
    await guest.goto(roomUrl);
    await guest.getByLabel('Votre nom').fill('Grace');
    await guest.getByRole('button', { name: 'Rejoindre' }).click();
    const guestBadge = guest.getByTestId('recording-badge');
    await guestBadge.waitFor();
    assert.match(await guestBadge.innerText(), /Enregistrement en cours/);
    assert.equal(await guest.getByRole('button', { name: /démarrer/i }).count(), 0, 'guests cannot record');
    await screenshot(guest, '04-guest-phone-fr-sees-badge');

    // Let the egress record a little, then stop: Saving…, then ready to start again.
    await host.waitForTimeout(2_500);
    await panel.getByRole('button', { name: 'Stop recording' }).click();
    await host.getByTestId('toast').filter({ hasText: 'Recording stopped' }).waitFor({ timeout: 20_000 });
    await panel.getByRole('button', { name: 'Start recording' }).waitFor({ timeout: 30_000 });
    await guestBadge.waitFor({ state: 'detached', timeout: 20_000 });
    await screenshot(host, '05-room-stopped');

    // The recording page plays the file once it is saved (the page updates by itself).
    await host.getByRole('link', { name: 'Recordings' }).click();
    await host.getByRole('link', { name: /Weekly sync/ }).first().click();
    await host.waitForURL(/\/recording\/[0-9a-f-]{36}$/);
    const played = await playMedia(host);
    assert.equal(played.error, null);
    assert.ok(played.readyState >= 2, `readyState ${played.readyState}`);
    assert.ok(played.duration > 0, `duration ${played.duration}`);
    const download = host.getByRole('link', { name: 'Download' });
    assert.match(await download.getAttribute('href'), /media\/\?download=1$/);
    await screenshot(host, '06-recording-page');

    // A share link plays for someone signed out.
    await host.getByRole('button', { name: 'Create share link' }).click();
    const shareUrl = await host.getByLabel('Share link').inputValue();
    assert.match(shareUrl, /\/s\/[A-Za-z0-9_-]{20,}$/);
    const outsider = await newPage(browser);
    await outsider.goto(shareUrl);
    const shared = await playMedia(outsider, 'video, audio');
    assert.ok(shared.readyState >= 2 && shared.duration > 0, JSON.stringify(shared));
    await screenshot(outsider, '07-share-page');

    // Revoked, the link stops working.
    await host.getByRole('button', { name: 'Revoke' }).first().click();
    await host.waitForTimeout(500);
    const revoked = await outsider.goto(shareUrl);
    assert.equal(revoked.status(), 404);
  });

  test('a start that fails says so in a dialog, and focus comes back', async () => {
    const host = await newPage(browser);
    await signIn(host, dev.url);
    await openNewRoom(host, 'Failing room');
    const panel = host.getByRole('region', { name: 'Recording' });
    await panel.getByRole('button', { name: 'Start recording' }).waitFor();

    const response = await fetch(`${dev.livekitUrl}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fault: 'start_error', code: 'unavailable' }),
    });
    assert.equal(response.status, 201, await response.text());

    const start = panel.getByRole('button', { name: 'Start recording' });
    await start.click();
    const dialog = host.getByRole('dialog', { name: 'Recording could not start' });
    await dialog.waitFor();
    await screenshot(host, '08-start-failed-dialog');
    await host.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await start.evaluate((button) => button === document.activeElement), true);
    await host.getByTestId('recording-badge').waitFor({ state: 'detached', timeout: 15_000 });
  });

  test('German and Dutch: taken from the browser, and offered by the picker', async () => {
    const visitor = await newPage(browser, { locale: 'de-DE' });
    await visitor.goto(dev.url);
    await visitor.waitForURL(/\/signin/);
    await visitor.getByRole('heading', { name: 'Anmelden' }).waitFor();
    const picker = visitor.getByLabel('Sprache');
    const offered = await picker.locator('option').allInnerTexts();
    assert.deepEqual(offered, ['English', 'Français', 'Deutsch', 'Nederlands']);
    await picker.selectOption('nl');
    await visitor.getByRole('heading', { name: 'Aanmelden' }).waitFor();
    assert.equal(await visitor.evaluate(() => document.documentElement.lang), 'nl');
  });
});

describe('the maximum duration', () => {
  let dev;
  let browser;
  before(async () => {
    dev = await startDev({ RECORDING_MAX_DURATION: '6000' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('counts down and alerts everyone when it stops the recording', async () => {
    const host = await newPage(browser);
    await signIn(host, dev.url);
    await openNewRoom(host, 'Short room');
    const panel = host.getByRole('region', { name: 'Recording' });
    await panel.getByText('Maximum duration: 6 s').waitFor();
    await panel.getByRole('button', { name: 'Start recording' }).click();
    await host.getByTestId('recording-countdown').waitFor({ timeout: 20_000 });

    const alert = host.getByRole('alert').filter({ hasText: 'Recording time limit reached' });
    await alert.waitFor({ timeout: 30_000 });
    await screenshot(host, '09-limit-reached');
    await panel.getByRole('button', { name: 'Start recording' }).waitFor({ timeout: 30_000 });
    assert.equal(await host.getByTestId('recording-badge').count(), 0);
  });
});

describe('auto-record', () => {
  let dev;
  let browser;
  before(async () => {
    dev = await startDev();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  /** Waits until nobody is in the emulator's room (dev mode keeps a closed page there 10 s). */
  async function roomEmpties(roomId) {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const response = await fetch(`${dev.livekitUrl}/admin/rooms/${roomId}`);
      const room = response.ok ? await response.json() : { participants: [] };
      if ((room.participants ?? []).length === 0) return;
      await new Promise((done) => setTimeout(done, 500));
    }
    throw new Error(`room ${roomId} did not empty`);
  }

  test('an auto-recorded room produces a recording without a click', async () => {
    const host = await newPage(browser);
    await signIn(host, dev.url);
    await openNewRoom(host, 'Daily standup');
    const roomUrl = host.url();
    const panel = host.getByRole('region', { name: 'Recording' });
    const auto = panel.getByRole('group', { name: 'Record automatically' });
    await auto.getByRole('checkbox', { name: 'Video recording' }).check();
    await panel.getByTestId('auto-record-status').filter({ hasText: 'Saved' }).waitFor();
    await screenshot(host, '10-auto-record-on');
    const room = await (await host.request.get(`${dev.url}/api/v1.0/rooms/daily-standup/`)).json();

    // The host leaves; the next person in starts the meeting, and the recording with it.
    await host.getByRole('link', { name: 'Recordings' }).click();
    await roomEmpties(room.id);
    const guest = await newPage(browser);
    await guest.goto(roomUrl);
    await guest.getByLabel('Your name').fill('Ada');
    await guest.getByRole('button', { name: 'Join' }).click();
    const badge = guest.getByTestId('recording-badge');
    await badge.waitFor({ timeout: 20_000 });
    assert.match(await badge.innerText(), /Recording in progress/);
    await screenshot(guest, '11-auto-recording');

    // Once the room is empty again, the recording is saved for the room's owner.
    await guest.waitForTimeout(2_000);
    await guest.close();
    await roomEmpties(room.id);
    await host.reload();
    const entry = host.getByRole('link', { name: /Daily standup/ }).first();
    await entry.waitFor({ timeout: 30_000 });
    await entry.click();
    await host.waitForURL(/\/recording\/[0-9a-f-]{36}$/);
    const played = await playMedia(host);
    assert.ok(played.readyState >= 2 && played.duration > 0, JSON.stringify(played));
  });
});

describe('asking the hosts to record', () => {
  let dev;
  let browser;
  before(async () => {
    dev = await startDev();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('a guest asks, and the host gets a toast that opens the recording panel', async () => {
    const host = await newPage(browser);
    await signIn(host, dev.url);
    await openNewRoom(host, 'Town hall');
    const roomUrl = host.url();
    const hostPanel = host.getByRole('region', { name: 'Recording' });
    await hostPanel.getByRole('button', { name: 'Start recording' }).waitFor();
    // Without a transcription service, the transcript mode says it records the audio only.
    await hostPanel.getByRole('radio', { name: 'Audio only' }).waitFor();
    await hostPanel.getByText('Transcripts need a transcription service').waitFor();

    // A guest, in Dutch, cannot start a recording but can ask for one.
    const guest = await newPage(browser, { locale: 'nl-NL' });
    await guest.goto(roomUrl);
    await guest.getByLabel('Je naam').fill('Ada');
    await guest.getByRole('button', { name: /Deelnemen/ }).click();
    assert.equal(await guest.getByRole('button', { name: /starten/i }).count(), 0);
    await guest.getByRole('button', { name: 'Vragen om op te nemen' }).click();
    await guest.getByTestId('request-status').filter({ hasText: 'De hosts zijn gevraagd.' }).waitFor();
    await screenshot(guest, '12-guest-asked');

    const toast = host.getByTestId('toast').filter({ hasText: 'Ada asks to record the meeting' });
    await toast.waitFor({ timeout: 15_000 });
    await screenshot(host, '13-host-asked');
    await toast.getByRole('button', { name: 'Open recording panel' }).click();
    await host.waitForFunction(() => document.activeElement?.id === 'recording-panel');

    // Asking again at once is refused, and says so.
    await guest.getByRole('button', { name: 'Vragen om op te nemen' }).click();
    await guest.getByTestId('request-status').filter({ hasText: 'Je hebt het al gevraagd.' }).waitFor();
  });
});

describe('transcripts', () => {
  let dev;
  let browser;
  let service;
  const jobs = [];
  before(async () => {
    // A transcription service on loopback: takes each job and answers its id.
    service = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        jobs.push({ authorization: request.headers.authorization, body: JSON.parse(body) });
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ job_id: `job-${jobs.length}` }));
      });
    });
    await new Promise((done) => service.listen(0, '127.0.0.1', done));
    dev = await startDev({
      SUMMARY_SERVICE_ENDPOINT: `http://127.0.0.1:${service.address().port}/api/v2/tasks/`,
      SUMMARY_SERVICE_API_TOKEN: 'to-the-service',
      SUMMARY_SERVICE_WEBHOOK_API_TOKEN: 'from-the-service',
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
    service?.close();
  });

  test('the recording page shows the transcript being made, then its link', async () => {
    const host = await newPage(browser);
    await signIn(host, dev.url);
    await openNewRoom(host, 'Board meeting');
    const panel = host.getByRole('region', { name: 'Recording' });
    // With a transcription service, the mode is a transcript and says nothing of audio.
    await panel.getByRole('radio', { name: 'Transcript' }).check();
    assert.equal(await panel.getByText('Audio only').count(), 0);
    await panel.getByRole('button', { name: 'Start recording' }).click();
    await panel.getByRole('button', { name: 'Stop recording' }).waitFor({ timeout: 20_000 });
    await host.waitForTimeout(2_000);
    await panel.getByRole('button', { name: 'Stop recording' }).click();
    await panel.getByRole('button', { name: 'Start recording' }).waitFor({ timeout: 30_000 });

    await host.getByRole('link', { name: 'Recordings' }).click();
    await host.getByRole('link', { name: /Board meeting/ }).first().click();
    const transcript = host.getByTestId('transcript');
    await transcript.getByText('The transcript is being made.').waitFor({ timeout: 30_000 });
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].authorization, 'Bearer to-the-service');

    // The service calls back with where the transcript is; the page shows the link.
    const callback = await fetch(`${dev.url}/api/v1.0/recordings/external-process-hook/`, {
      method: 'POST',
      headers: { authorization: 'Bearer from-the-service', 'content-type': 'application/json' },
      body: JSON.stringify({
        job_id: 'job-1',
        type: 'transcript',
        status: 'success',
        url: 'https://docs.example.org/d/board-meeting',
      }),
    });
    assert.equal(callback.status, 200);
    const link = transcript.getByRole('link', { name: 'Open the transcript' });
    await link.waitFor({ timeout: 20_000 });
    assert.equal(await link.getAttribute('href'), 'https://docs.example.org/d/board-meeting');
    await screenshot(host, '14-transcript-ready');
  });
});

describe('consent to being recorded', () => {
  let dev;
  let browser;
  before(async () => {
    dev = await startDev();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  /** A guest joins the room under `name` in `locale`. */
  async function guestJoins(roomUrl, name, locale = 'en-US') {
    const guest = await newPage(browser, { locale });
    await guest.goto(roomUrl);
    const labels = { 'en-US': ['Your name', 'Join'], 'de-DE': ['Ihr Name', 'betreten'] };
    const [label, join] = labels[locale];
    await guest.getByLabel(label).fill(name);
    await guest.getByRole('button', { name: join }).click();
    return guest;
  }

  test('late joiners see the notice or answer the question, and the owner sees who did what', async () => {
    const host = await newPage(browser);
    await signIn(host, dev.url);
    await openNewRoom(host, 'Board meeting');
    const roomUrl = host.url();
    const panel = host.getByRole('region', { name: 'Recording' });
    await panel.getByLabel('While it records').selectOption('notice');
    await panel.getByTestId('auto-record-status').filter({ hasText: 'Saved' }).waitFor();
    await panel.getByRole('button', { name: 'Start recording' }).click();
    await panel.getByRole('button', { name: 'Stop recording' }).waitFor({ timeout: 20_000 });
    // The host decided to record: nobody asks them.
    assert.equal(await host.getByRole('dialog').count(), 0);

    // A late joiner, in German, is told at once and acknowledges.
    const grete = await guestJoins(roomUrl, 'Grete', 'de-DE');
    const notice = grete.getByRole('dialog', { name: 'Dieses Meeting wird aufgenommen' });
    await notice.waitFor({ timeout: 15_000 });
    await screenshot(grete, '16-consent-notice-de');
    await notice.getByRole('button', { name: 'OK' }).click();
    await notice.waitFor({ state: 'detached' });

    // The host now asks: the next one accepts, the one after leaves.
    await panel.getByLabel('While it records').selectOption('ask');
    await panel.getByText('Those who have not accepted may watch and listen').waitFor();
    const bob = await guestJoins(roomUrl, 'Bob');
    const question = bob.getByRole('dialog', { name: 'Do you accept being recorded?' });
    await question.waitFor({ timeout: 15_000 });
    await screenshot(bob, '17-consent-question');
    await question.getByRole('button', { name: 'Accept' }).click();
    await question.waitFor({ state: 'detached' });
    const carol = await guestJoins(roomUrl, 'Carol');
    await carol.getByRole('dialog', { name: 'Do you accept being recorded?' }).getByRole('button', { name: 'Leave' }).click();
    await carol.getByTestId('toast').filter({ hasText: 'You left the meeting' }).waitFor();
    assert.ok(!carol.url().startsWith(roomUrl), carol.url());

    // The recording's page tells its owner who was told, who accepted, who left.
    await panel.getByRole('button', { name: 'Stop recording' }).click();
    await host.getByTestId('toast').filter({ hasText: 'Recording stopped' }).waitFor({ timeout: 20_000 });
    await host.getByRole('link', { name: 'Recordings' }).click();
    await host.getByRole('link', { name: /Board meeting/ }).first().click();
    await host.waitForURL(/\/recording\/[0-9a-f-]{36}$/);
    const consents = host.getByTestId('consents');
    await consents.waitFor();
    const rows = await consents.getByRole('row').allInnerTexts();
    const row = (name) => rows.find((text) => text.startsWith(name)) ?? '';
    assert.match(row('Grete (guest)'), /Was told/);
    assert.match(row('Bob (guest)'), /Accepted/);
    assert.match(row('Carol (guest)'), /Declined and left/);
    await screenshot(host, '18-consents-on-recording-page');
  });
});

describe('pause and resume', () => {
  let dev;
  let browser;
  before(async () => {
    dev = await startDev();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('a paused recording plays as one file whose length is the time recorded', async () => {
    const host = await newPage(browser);
    await signIn(host, dev.url);
    await openNewRoom(host, 'Interview');
    const roomUrl = host.url();
    const panel = host.getByRole('region', { name: 'Recording' });
    await panel.getByRole('button', { name: 'Start recording' }).click();
    await panel.getByRole('button', { name: 'Stop recording' }).waitFor({ timeout: 20_000 });
    await host.waitForTimeout(3_000);

    // Paused: everyone sees it, the guest in French too, and nothing is recorded.
    await panel.getByRole('button', { name: 'Pause' }).click();
    const badge = host.getByTestId('recording-badge');
    await badge.filter({ hasText: 'Recording paused' }).waitFor({ timeout: 15_000 });
    await host.getByTestId('toast').filter({ hasText: 'Recording paused' }).waitFor();
    const guest = await newPage(browser, { locale: 'fr-FR' });
    await guest.goto(roomUrl);
    await guest.getByLabel('Votre nom').fill('Paul');
    await guest.getByRole('button', { name: 'Rejoindre' }).click();
    await guest.getByTestId('recording-badge').filter({ hasText: 'Enregistrement en pause' }).waitFor();
    await screenshot(host, '19-recording-paused');
    await host.waitForTimeout(4_000);

    await panel.getByRole('button', { name: 'Resume' }).click();
    await badge.filter({ hasText: 'Recording in progress' }).waitFor({ timeout: 20_000 });
    await guest.getByTestId('recording-badge').filter({ hasText: 'Enregistrement en cours' }).waitFor();
    await host.waitForTimeout(3_000);
    await panel.getByRole('button', { name: 'Stop recording' }).click();
    await host.getByTestId('toast').filter({ hasText: 'Recording stopped' }).waitFor({ timeout: 20_000 });

    // About six seconds recorded, not the ten the meeting took.
    await host.getByRole('link', { name: 'Recordings' }).click();
    await host.getByRole('link', { name: /Interview/ }).first().click();
    await host.waitForURL(/\/recording\/[0-9a-f-]{36}$/);
    const played = await playMedia(host);
    assert.equal(played.error, null);
    assert.ok(played.duration > 4.5 && played.duration < 8.5, `duration ${played.duration}`);
    await screenshot(host, '20-paused-recording-plays');
  });
});

describe("signing in with the organisation's identity provider", () => {
  let dev;
  let provider;
  let browser;
  before(async () => {
    // The provider must know the service's callback before the service starts.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    provider = await startOidcProvider(url, {
      alice: { email: 'alice@example.test', given_name: 'Alice', family_name: 'Liddell' },
      nomail: { given_name: 'No', family_name: 'Mail' },
    });
    dev = await startDev({ MEET_RECORDER_LISTEN: `127.0.0.1:${port}`, ...provider.settings });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
    provider?.stop();
  });

  /** A page that reaches loopback only (the provider's default pages link web fonts). */
  async function loopbackPage() {
    const page = await newPage(browser);
    await page.context().route(
      (url) => url.hostname !== '127.0.0.1',
      (route) => route.abort(),
    );
    return page;
  }

  test("a person signs in on the provider's own page, comes back where they were, and signs out of both", async () => {
    const page = await loopbackPage();
    await page.goto(`${dev.url}/recordings`);
    await page.waitForURL(/\/signin\?next=%2Frecordings/);
    await page.getByRole('link', { name: 'Sign in with your organisation' }).click();

    // The provider's own sign-in form.
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any password');
    await screenshot(page, 'oidc-01-provider-sign-in');
    await page.getByRole('button', { name: 'Sign-in' }).click();

    await page.waitForURL(`${dev.url}/recordings`);
    await page.getByRole('heading', { name: 'Recordings' }).waitFor();
    const me = await page.evaluate(async () => (await fetch('/api/v1.0/users/me/')).json());
    assert.equal(me.email, 'alice@example.test');
    assert.equal(me.full_name, 'Alice Liddell');
    await screenshot(page, 'oidc-02-signed-in');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(new RegExp(`^${dev.url}/signin`));
    const status = await page.evaluate(async () => (await fetch('/api/v1.0/users/me/')).status);
    assert.equal(status, 401);

    // Signed out at the provider too: signing in again asks for the login.
    await page.getByRole('link', { name: 'Sign in with your organisation' }).click();
    await page.locator('input[name="login"]').waitFor();
  });

  test('a refused sign-in is explained on the sign-in page', async () => {
    const page = await loopbackPage();
    await page.goto(`${dev.url}/signin`);
    await page.getByRole('link', { name: 'Sign in with your organisation' }).click();
    await page.locator('input[name="login"]').fill('nomail');
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.waitForURL(/\/signin\?error=sign-in-no-email/);
    await page
      .getByRole('alert')
      .filter({ hasText: 'Your organisation did not give an email address' })
      .waitFor();
    await screenshot(page, 'oidc-03-refused');
  });
});
