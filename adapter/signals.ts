/**
 * The one module that touches process signals (node:process works under Bun
 * and Deno). The first SIGTERM/SIGINT asks for a graceful stop; a second one
 * while draining means "now" and exits at once.
 */
import process from "node:process";

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Resolves with the name of the first shutdown signal received. */
export function shutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (sig: string) => {
      if (received) process.exit(1);
      received = true;
      resolve(sig);
    };
    for (const s of SIGNALS) process.on(s, () => onSignal(s));
  });
}
