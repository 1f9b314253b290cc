export declare const PASSKEY_INTRO: string;
export declare const CLASSIC_FILLER: string;
export declare const PASSKEY_QUESTION: string;
export declare function passkeyStatement(key: string): string;
export declare function passkeyDocument(parts: { key: string; fillerBefore: string; fillerAfter: string }): { prompt: string; answer: string; text: string };
export declare function randomPasskey(random: () => number): string;
