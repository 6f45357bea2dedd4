/** Headless Chromium for the browser tests: Debian's package driven by playwright-core, offline. */
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
export const SKIP = CHROMIUM ? false : 'Chromium not found: install it with `apt-get install -y chromium` (or set CHROMIUM_PATH)';

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}

/** Collect page errors and console errors; abort (and record) every request `allowed` rejects. */
export async function watchPage(page: Page, allowed: (url: string) => boolean): Promise<{ errors: string[]; outside: string[] }> {
  const errors: string[] = [];
  const outside: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed(url)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  return { errors, outside };
}
