/**
 * The campaign page in a real browser (Debian's chromium, driven by
 * playwright-core) against a whole dialer and the simulator: it asks for the
 * token when it has none, opens with the token in its fragment, shows a
 * running campaign's progress moving, pauses it with its button (the server
 * holds it paused), shows its calls over time and the schedules, with no
 * console error and no breach of its security policy served without
 * 'unsafe-inline'. Screenshots are kept in test-results/browser/.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { API_TOKEN, csvSource, startHarness, type Harness } from '../support/harness.js';
import { until } from '../support/until.js';
import { launchChromium, SHOTS, watchedPage } from './support.js';

const PLAYVOICE = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };
const numbers = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `138${String(10_000_000 + from + i).slice(1)}`);
const csv = (list: string[]) => ['name,phone', ...list.map((p, i) => `c${i},${p}`)].join('\n');

/** An hour range that excludes the present hour in UTC: the campaign's window is closed now. */
function closedHours(now = new Date()): string {
  const h = (now.getUTCHours() + 12) % 24;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(h)}:00-${two((h + 1) % 24)}:00`;
}

const jobs = mkdtempSync(join(tmpdir(), 'adtest-browser-jobs-'));

describe('the campaign page in chromium', () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    // A scheduled definition, for the schedules table and a scheduled run among the campaigns.
    writeFileSync(
      join(jobs, 'weekday-reminders.yaml'),
      [
        'action: playvoice',
        'params: { voicetype: 2, voicefile: http://example.invalid/r.mp3, chengshudu: 1, userid: 1@extGroup-1 }',
        'cps: 5',
        'maxConcurrent: 5',
        'contacts: reminders.csv',
        'schedule:',
        '  cron: "0 9 * * 1-5"',
        '  timezone: Asia/Shanghai',
        '',
      ].join('\n'),
    );
    writeFileSync(join(jobs, 'reminders.csv'), csv(numbers(30, 9000)));
    h = await startHarness('browser', { mix: { answered: 0.55, no_answer: 0.3, busy: 0.1, failed: 0.05 } }, { AUTODIALER_JOBS_DIR: jobs });
    await h.container.schedules.sync();
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    rmSync(jobs, { recursive: true, force: true });
  });

  it('asks for the API token when it has none, and opens with the one given', async () => {
    const { page, problems } = await watchedPage(browser, { strictPolicy: true });
    await page.goto(`${h.serverUrl}/`);
    await page.locator('#token-form').waitFor();
    expect(await page.locator('#notice-text').innerText()).toContain('needs its API token');
    await page.screenshot({ path: `${SHOTS}/campaign-page-token.png` });
    await page.locator('#token-input').fill(API_TOKEN);
    await page.locator('#token-form button[type=submit]').click();
    await page.locator('#notice').waitFor({ state: 'hidden' });
    await page.locator('#schedule-rows tr[data-schedule="weekday-reminders"]').waitFor();
    expect(await page.locator('#campaign-rows').innerText()).toContain('no campaigns yet');
    // Nothing was asked of the server before the token was there: no refused request in the console.
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a running campaign moving, pauses it on the server, draws its calls over time', { timeout: 120_000 }, async () => {
    const { page, problems } = await watchedPage(browser, { strictPolicy: true });
    const c = h.container;
    // Beside it: a scheduled run, and a campaign whose calling window is closed now, which waits.
    const run = await c.schedules.runNow('weekday-reminders');
    const waiting = await c.createCampaign(
      c.definition({ name: 'evening list', action: 'playvoice', params: PLAYVOICE, cps: 5, maxConcurrent: 5, window: { hours: closedHours(), timezone: 'UTC' }, ingest: { numberFormat: 'as_written' } }),
      csvSource(csv(numbers(40, 5000))),
      'evening.csv',
    );
    const { id } = await c.createCampaign(
      c.definition({ name: 'spring promotion', action: 'playvoice', params: PLAYVOICE, cps: 8, maxConcurrent: 6, maxAttempts: 2, retry: ['busy=1s', 'no_answer=never', 'failed=never'], ingest: { numberFormat: 'as_written' } }),
      csvSource(csv(numbers(400))),
      'spring.csv',
    );

    // The server gives the page a policy that allows no inline script or style.
    const served = await h.api('/');
    await served.body.dump();
    expect(served.headers['content-security-policy']).toContain("script-src 'self'");
    expect(served.headers['content-security-policy']).not.toContain('unsafe-inline');
    await page.goto(`${h.serverUrl}/#token=${encodeURIComponent(API_TOKEN)}`);
    // The token left the address bar (kept for the tab only).
    await expect.poll(() => page.url(), { timeout: 30_000 }).not.toContain('token=');
    expect(page.url()).not.toContain(API_TOKEN);

    const row = page.locator(`tr[data-campaign="${id}"]`);
    const finalShown = async () => Number(await row.getAttribute('data-final'));
    /** Until the page shows more than `n` contacts final (its own refreshes bring them). */
    const finalAbove = (n: number) => expect.poll(finalShown, { timeout: 60_000 }).toBeGreaterThan(n);
    await finalAbove(0);
    const first = await finalShown();
    // Progress moves on the page, as the page refreshes itself.
    await finalAbove(first);
    expect(await finalShown()).toBeGreaterThan(first);
    await expect.poll(() => row.locator('td').nth(2).innerText(), { timeout: 30_000 }).toMatch(/\d+ \/ 400 · [\d.]+%/);
    expect(await row.locator('td').nth(4).innerText()).toMatch(/of 8\/s/);
    expect(await page.locator(`tr[data-campaign="${waiting.id}"] td`).nth(6).innerText()).toMatch(/^opens /);
    await page.screenshot({ path: `${SHOTS}/campaign-page-running.png`, fullPage: true });

    // Pause: the server holds the campaign paused, and the page says so.
    await row.locator('button[data-action="pause"]').click();
    await expect.poll(() => page.locator('#flash').innerText(), { timeout: 30_000 }).toContain('pause done, now paused');
    await until(async () => (await c.campaigns.get(id))?.state === 'paused', 'the campaign paused on the server');
    await page.locator(`tr[data-campaign="${id}"][data-state="paused"]`).waitFor();
    await row.locator('button[data-action="resume"]').waitFor();

    // The campaign in detail: its facts and its calls over time, by outcome.
    await row.locator('a.name').click();
    await page.locator('#detail').waitFor({ state: 'visible' });
    await page.locator('#chart svg.timeline rect.k-answered').first().waitFor();
    expect(await page.locator('#detail-name').innerText()).toBe('spring promotion');
    expect(await page.locator('#chart-legend').innerText()).toMatch(/dialed \d+/);
    expect(await page.locator('#detail-facts').innerText()).toContain('paused');
    await page.screenshot({ path: `${SHOTS}/campaign-page.png`, fullPage: true });
    expect(existsSync(`${SHOTS}/campaign-page.png`)).toBe(true);

    // The schedule: its next run, and its last run's campaign.
    const schedule = page.locator('#schedule-rows tr[data-schedule="weekday-reminders"]');
    expect(await schedule.innerText()).toMatch(/cron 0 9 \* \* 1-5/);
    expect(await schedule.locator('td').nth(3).innerText()).toContain(run.campaignId!);
    expect(await page.locator(`tr[data-campaign="${run.campaignId!}"] td`).first().innerText()).toMatch(/weekday-reminders · next in/);

    expect(problems).toEqual([]);
    await c.control.cancel(id);
    await c.control.cancel(waiting.id);
    await c.control.cancel(run.campaignId!);
    await page.close();
  });
});
