import type { Page } from 'playwright-core';

/** The Chromium binary the suites drive: KVKIT_CHROMIUM or /usr/bin/chromium. */
export declare const CHROMIUM: string;
/**
 * A page that loaded the bundled `entry` (a file path), and `close()` for the page, browser and
 * server. `worker`: a second entry, bundled and served at /worker.js for the page to start;
 * `crossOriginIsolated`: serve everything with the COOP/COEP headers (SharedArrayBuffer, threads).
 */
export declare function openInChromium(
  entry: string,
  options?: { args?: string[]; worker?: string; crossOriginIsolated?: boolean },
): Promise<{ page: Page; close(): Promise<void> }>;
/**
 * `url` (a page someone else serves) open in headless Chromium with a fresh profile, and `close()`
 * for the page, the browser and the profile.
 */
export declare function openPage(url: string, options?: { args?: string[] }): Promise<{ page: Page; close(): Promise<void> }>;
