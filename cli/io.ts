/** What a command may touch: output streams and the environment (injected for tests). */
export interface CliIo {
  out(text: string): Promise<void>;
  err(text: string): Promise<void>;
  env: Record<string, string | undefined>;
  /** Places in argv whose bytes were not UTF-8 (the runtime read them with U+FFFD in place of the bad bytes). */
  notUtf8?: ReadonlySet<number>;
}
