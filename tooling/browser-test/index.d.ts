import type { Page } from 'playwright-core';

/** The Chromium binary the suites drive: KVKIT_CHROMIUM or /usr/bin/chromium. */
export declare const CHROMIUM: string;
/** A page that loaded the bundled `entry` (a file path), and `close()` for the page, browser and server. */
export declare function openInChromium(entry: string, options?: { args?: string[] }): Promise<{ page: Page; close(): Promise<void> }>;
