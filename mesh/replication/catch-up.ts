/**
 * catchUp(): pull once from every peer live now, by anti-entropy, retrying a
 * round that fails (lost message, timeout) until the deadline. A peer that
 * leaves the live set meanwhile has nothing more to give and is not waited for.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Clock } from "../types.ts";
import type { AntiEntropy } from "./anti-entropy.ts";
import type { PeerLink } from "./outbox.ts";

export function pullFromEveryLivePeer(
  peers: ReadonlyMap<string, PeerLink>,
  ae: AntiEntropy,
  clock: Clock,
  stopped: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const remaining = new Set(peers.keys());
  if (remaining.size === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const end = (err: RoomyError | null): void => {
      if (finished) return;
      finished = true;
      timer.cancel();
      if (err) reject(err);
      else resolve();
    };
    const timer = clock.setTimer(timeoutMs, () =>
      end(new RoomyError("unavailable", `catch-up with ${[...remaining].join(", ")} did not finish within ${timeoutMs} ms`)),
    );
    const complete = (name: string): void => {
      remaining.delete(name);
      if (remaining.size === 0) end(null);
    };
    const attempt = (name: string): void => {
      if (finished) return;
      if (stopped()) return end(new RoomyError("unavailable", "replicator stopped"));
      const link = peers.get(name);
      if (link === undefined) return complete(name);
      ae.start(link, (ok) => (ok ? complete(name) : attempt(name)), "pull");
    };
    for (const name of [...remaining]) attempt(name);
  });
}
