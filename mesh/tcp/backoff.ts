/** Reconnect delays: exponential per consecutive failure, capped, jittered. */
import type { Random } from "../types.ts";

export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Ceiling of the delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, maxMs: 5000 };

/**
 * Delay before the next dial after `failures` (>= 1) consecutive failures:
 * base * 2^(failures-1), capped at max, then drawn from [d/2, d) so that
 * nodes that failed together do not retry together.
 */
export function backoffDelay(failures: number, random: Random, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exp = Math.min(Math.max(failures, 1) - 1, 30);
  const d = Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
  return d / 2 + random.float() * (d / 2);
}
