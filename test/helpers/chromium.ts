/**
 * Debian's Chromium for browser tests, driven by playwright-core (never a browser
 * download). The flags keep it off the network this machine does not have.
 */
import { type Browser, chromium as playwright } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return playwright.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
