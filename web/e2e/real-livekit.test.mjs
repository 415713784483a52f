// The room page against the real LiveKit server with real WebRTC media: Chromium with a
// fake camera and microphone joins through LiveKit's components, a bot on LiveKit's Python
// SDK joins with a token from our service, a guest joins late; and starting a recording
// with no egress worker fails plainly. Run inside scripts/netns.sh:
//   scripts/netns.sh env MEETREC_TEST_DATABASE=sqlite MEETREC_BIN=$PWD/target/debug/meet-recorder \
//     node --test web/e2e/real-livekit.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { screenshot, signIn } from './harness.mjs';
import {
  HOST,
  IN_NETNS,
  guestRoom,
  launchMediaBrowser,
  startBot,
  startEgressWorker,
  startStack,
} from './real-livekit-harness.mjs';

const MEDIA = { permissions: ['camera', 'microphone'] };

/** The tile of the participant named `name` on a page of LiveKit's VideoConference. */
const tile = (page, name) =>
  page.locator('.lk-participant-tile').filter({ has: page.locator(`[data-lk-participant-name="${name}"]`) });

/**
 * Waits until the tile's video element shows real frames: playing, and not black (the fake
 * camera is green, the bot's picture a coloured ramp).
 */
async function videoPlays(page, name, timeout = 30_000) {
  const video = tile(page, name).locator('video').first();
  await video.waitFor({ timeout });
  await page.waitForFunction(
    (element) => {
      if (element.readyState < 2 || element.videoWidth === 0 || element.paused) return false;
      const canvas = document.createElement('canvas');
      canvas.width = 32;
      canvas.height = 24;
      const context = canvas.getContext('2d');
      context.drawImage(element, 0, 0, canvas.width, canvas.height);
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      let brightest = 0;
      for (let i = 0; i < data.length; i += 4) brightest = Math.max(brightest, data[i], data[i + 1], data[i + 2]);
      return brightest > 60;
    },
    await video.elementHandle(),
    { timeout, polling: 250 },
  );
}

/** Turns a device on in LiveKit's control bar (devices start off on our room page). */
async function turnOn(page, device) {
  const toggle = page.locator('.lk-control-bar').getByRole('button', { name: device, exact: true });
  await toggle.click();
  await page.waitForFunction(
    (element) => element.getAttribute('aria-pressed') === 'true',
    await toggle.elementHandle(),
    { timeout: 15_000 },
  );
}

describe('the room page on the real LiveKit server', { skip: !IN_NETNS && 'needs real media: run inside scripts/netns.sh' }, () => {
  let stack;
  let browser;
  const bots = [];
  const stops = [];
  before(async () => {
    stack = await startStack();
    browser = await launchMediaBrowser();
  });
  after(async () => {
    await Promise.all(bots.map((bot) => bot.leave()));
    await Promise.all(stops.map((stop) => stop()));
    await browser?.close();
    await stack?.stop();
  });

  /** Signs the host in (a context of their own), creates a public room and opens it. */
  async function hostInRoom(name, { camera = true } = {}) {
    const context = await browser.newContext(MEDIA);
    const page = await context.newPage();
    await signIn(page, stack.url, HOST);
    await page.getByLabel('Room name').fill(name);
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { name }).waitFor();
    // Joined: LiveKit's components show the host's own tile.
    await tile(page, HOST.name).waitFor({ timeout: 30_000 });
    if (camera) {
      await turnOn(page, 'Camera');
      await videoPlays(page, HOST.name);
    }
    const slug = new URL(page.url()).pathname.split('/').pop();
    const room = await guestRoom(stack, slug);
    return { page, room, url: page.url() };
  }

  async function bot(room, name, options) {
    const started = await startBot(stack, room.id, name, options);
    bots.push(started);
    return started;
  }

  test('the host and a bot see and hear each other through the real server', async () => {
    const { page, room } = await hostInRoom('Real media');
    await turnOn(page, 'Microphone');
    const robo = await bot(room, 'Robo Bot');
    await robo.waitFor((e) => e.event === 'published' && e.source === 'camera');
    await robo.waitFor((e) => e.event === 'published' && e.source === 'microphone');

    // The host's page shows the bot by name, plays its video and its sound; the bot
    // receives the host's camera and microphone.
    await tile(page, 'Robo Bot').waitFor({ timeout: 30_000 });
    await videoPlays(page, 'Robo Bot');
    await page.waitForFunction(
      () => [...document.querySelectorAll('audio')].some((audio) => audio.readyState >= 2 && !audio.paused),
      null,
      { timeout: 30_000 },
    );
    const camera = await robo.waitFor((e) => e.event === 'track_subscribed' && e.source === 'SOURCE_CAMERA');
    assert.notEqual(camera.identity, robo.identity);
    assert.equal(camera.kind, 'KIND_VIDEO');
    const microphone = await robo.waitFor((e) => e.event === 'track_subscribed' && e.source === 'SOURCE_MICROPHONE');
    assert.equal(microphone.identity, camera.identity);
    assert.equal(microphone.kind, 'KIND_AUDIO');
    await screenshot(page, 'real-01-host-and-bot');
  });

  test('starting a recording with no egress worker waits, then says it failed', async () => {
    const { page, room } = await hostInRoom('No recorder', { camera: false });
    const panel = page.getByRole('region', { name: 'Recording' });
    const start = panel.getByRole('button', { name: 'Start recording' });

    const answers = [];
    for (const attempt of [1, 2]) {
      await start.waitFor();
      const began = Date.now();
      const answer = page.waitForResponse((r) => r.url().includes('/start-recording/'), { timeout: 60_000 });
      await start.click();
      // While LiveKit looks for a worker, the panel says it is starting and cannot be pressed.
      const starting = panel.getByRole('button', { name: 'Starting…' });
      await starting.waitFor({ timeout: 5_000 });
      assert.equal(await starting.isDisabled(), true);
      // LiveKit keeps looking for a worker for a while: the panel says what it waits for.
      const waiting = panel.getByRole('status').filter({ hasText: 'Waiting for the recorder to answer' });
      await waiting.waitFor({ timeout: 10_000 });
      if (attempt === 1) await screenshot(page, 'real-02-starting');

      const dialog = page.getByRole('dialog', { name: 'Recording could not start' });
      await dialog.waitFor({ timeout: 60_000 });
      const response = await answer;
      answers.push({ status: response.status(), body: await response.json(), ms: Date.now() - began });
      if (attempt === 1) await screenshot(page, 'real-03-start-failed');
      await dialog.getByRole('button', { name: 'OK' }).click();
      await dialog.waitFor({ state: 'detached' });
      // The answer can come before the room's event stream brings the failed state: the
      // panel stops waiting, and shows no badge, once the stream has it.
      await waiting.waitFor({ state: 'detached', timeout: 15_000 });
      await page.getByTestId('recording-badge').waitFor({ state: 'detached', timeout: 15_000 });
    }
    // Both attempts reached LiveKit and failed there: the first left nothing open behind it.
    for (const { status, body } of answers) {
      assert.equal(status, 502, JSON.stringify(body));
      assert.equal(body.code, 'recording-failed-to-start');
      assert.equal(body.recording.status, 'failed_to_start');
    }
    console.log(`start-recording with no worker answered after ${answers.map((a) => a.ms).join(' ms, ')} ms`);
    const recordings = await (await page.request.get(`${stack.url}/api/v1.0/recordings/`)).json();
    const here = recordings.results.filter((recording) => recording.room.id === room.id);
    assert.deepEqual(
      here.map((recording) => recording.status),
      ['failed_to_start', 'failed_to_start'],
    );
    await start.waitFor();
    assert.equal(await start.isEnabled(), true);
  });

  test('a guest who joins late sees everyone in the real room', async () => {
    const { page, room, url } = await hostInRoom('Late guest');
    const robo = await bot(room, 'Robo Late');
    await robo.waitFor((e) => e.event === 'published' && e.source === 'camera');
    await tile(page, 'Robo Late').waitFor({ timeout: 30_000 });

    const guestContext = await browser.newContext({ ...MEDIA, locale: 'fr-FR' });
    const guest = await guestContext.newPage();
    await guest.goto(url);
    await guest.getByLabel('Votre nom').fill('Grace');
    await guest.getByRole('button', { name: 'Rejoindre la salle' }).click();

    await tile(guest, 'Grace').waitFor({ timeout: 30_000 });
    await videoPlays(guest, HOST.name);
    await videoPlays(guest, 'Robo Late');
    const joined = await robo.waitFor((e) => e.event === 'participant_connected' && e.identity.startsWith('guest-'));
    assert.ok(joined);
    await tile(page, 'Grace').waitFor({ timeout: 30_000 });
    assert.equal(await guest.getByRole('button', { name: /enregistrement/i }).count(), 0, 'guests cannot record');
    await screenshot(guest, 'real-04-late-guest-fr');
  });

  test(
    'with an egress worker, the host records: the badge for everyone, the metadata for the bot',
    async () => {
      const worker = await startEgressWorker(stack);
      stops.push(worker.stop);

      // The host's own camera stays off: what is checked is the bot's picture and the badge,
      // and two fewer video streams to encode and decode keep the test within its timeouts
      // on a busy machine.
      const { page, room, url } = await hostInRoom('Recorded room', { camera: false });
      const robo = await bot(room, 'Robo Rec');
      await tile(page, 'Robo Rec').waitFor({ timeout: 30_000 });
      const panel = page.getByRole('region', { name: 'Recording' });
      await panel.getByRole('radio', { name: 'Video recording' }).check();
      await panel.getByRole('button', { name: 'Start recording' }).click();
      await panel.getByRole('button', { name: 'Stop recording' }).waitFor({ timeout: 30_000 });
      const badge = page.getByTestId('recording-badge');
      await badge.waitFor();
      assert.match(await badge.innerText(), /Recording in progress/);
      const metadata = (e) => (e.event === 'room_metadata' ? JSON.parse(e.metadata || '{}') : null);
      await robo.waitFor((e) => metadata(e)?.recording_status === 'started');

      // A guest who joins during the recording sees the badge, and the others, at once.
      const guestContext = await browser.newContext({ ...MEDIA, locale: 'fr-FR' });
      const guest = await guestContext.newPage();
      await guest.goto(url);
      await guest.getByLabel('Votre nom').fill('Gaspard');
      await guest.getByRole('button', { name: 'Rejoindre la salle' }).click();
      const guestBadge = guest.getByTestId('recording-badge');
      await guestBadge.waitFor({ timeout: 30_000 });
      assert.match(await guestBadge.innerText(), /Enregistrement en cours/);
      await videoPlays(guest, 'Robo Rec', 60_000);
      await screenshot(page, 'real-05-recording-host');
      await screenshot(guest, 'real-06-recording-late-guest-fr');

      await page.waitForTimeout(2_000); // something to record
      await panel.getByRole('button', { name: 'Stop recording' }).click();
      await panel.getByRole('button', { name: 'Start recording' }).waitFor({ timeout: 60_000 });
      await badge.waitFor({ state: 'detached', timeout: 30_000 });
      await guestBadge.waitFor({ state: 'detached', timeout: 30_000 });
      const ended = robo.events.findLastIndex((e) => metadata(e)?.recording_status === 'started');
      await robo.waitFor(
        (e) => robo.events.indexOf(e) > ended && e.event === 'room_metadata' && !metadata(e).recording_status,
        30_000,
      );

      // The worker's file is found in storage: the recording is saved and its owner told.
      const deadline = Date.now() + 60_000;
      let status;
      for (;;) {
        const list = await (await page.request.get(`${stack.url}/api/v1.0/recordings/`)).json();
        status = list.results.find((recording) => recording.room.id === room.id)?.status;
        if (status === 'notification_succeeded' || Date.now() > deadline) break;
        await page.waitForTimeout(500);
      }
      assert.equal(status, 'notification_succeeded');
      await screenshot(page, 'real-07-recording-stopped');
    },
  );
});
