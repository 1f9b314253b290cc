export declare function compileWatVariants(path: string): Promise<{ plain: Uint8Array; fused: Uint8Array | null }>;
export declare function compileWat(path: string): Promise<Uint8Array>;
export declare function watModuleCode(path: string): Promise<string>;
export declare function watEsbuildPlugin(): { name: string; setup(build: unknown): void };
export declare function watVitePlugin(): { name: string; load(id: string): Promise<{ code: string; map: null } | undefined> };
