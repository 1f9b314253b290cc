import type { UserConfig } from 'vitest/config';
export declare function kvkitVitestConfig(overrides?: UserConfig): UserConfig;
