/**
 * The one module that touches process signals (node:process works under Bun
 * and Deno). The first SIGTERM/SIGINT asks for a graceful stop; a second one
 * while draining means "now" and exits at once.
 */
import process from "node:process";

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * Resolves with the name of the first shutdown signal received. `onAgain`
 * is told of a second one just before the process exits with 1 (so the log
 * says why the drain did not finish).
 */
export function shutdownSignal(onAgain?: (sig: string) => void): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (sig: string) => {
      if (received) {
        onAgain?.(sig);
        process.exit(1);
      }
      received = true;
      resolve(sig);
    };
    for (const s of SIGNALS) process.on(s, () => onSignal(s));
  });
}
