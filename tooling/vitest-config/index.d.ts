import type { UserConfig } from 'vitest/config';
export declare function kvkitVitestConfig(overrides?: UserConfig): UserConfig;
export declare function cudaSourceAsText(): { name: string; transform(code: string, id: string): { code: string; map: null } | undefined };
