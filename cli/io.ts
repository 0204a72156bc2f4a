/** What a command may touch: output streams and the environment (injected for tests). */
export interface CliIo {
  out(text: string): Promise<void>;
  err(text: string): Promise<void>;
  env: Record<string, string | undefined>;
}
