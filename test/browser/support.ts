/**
 * Debian's chromium driven by playwright-core, for the page's tests: the
 * launch flags of a machine without network, a page that records every
 * console error or warning (a refused script or style, a failed request),
 * every uncaught error and every breach of the page's security policy, and
 * the directory where the screenshots are kept (test-results/, not committed).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SHOTS = 'test-results/browser';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does), or set CHROMIUM_PATH`);
  }
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and warnings, uncaught errors and policy breaches, as they came. */
  problems: string[];
}

/**
 * A new page that records what goes wrong. `strictPolicy`: the page's
 * Content-Security-Policy is served without `'unsafe-inline'`, so that an
 * inline script, style attribute or handler shows as a breach.
 */
export async function watchedPage(browser: Browser, opts: { strictPolicy?: boolean } = {}): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript({ content: "document.addEventListener('securitypolicyviolation', (e) => console.error(`policy breach: ${e.violatedDirective} ${e.blockedURI}`));" });
  if (opts.strictPolicy) {
    await page.route(
      (url) => url.pathname === '/' || url.pathname.endsWith('.html'),
      async (route) => {
        const res = await route.fetch();
        const policy = res.headers()['content-security-policy'];
        if (!policy) throw new Error(`the page ${route.request().url()} came without a Content-Security-Policy`);
        await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': policy.replace(/\s*'unsafe-inline'/g, '') } });
      },
    );
  }
  return { page, problems };
}
