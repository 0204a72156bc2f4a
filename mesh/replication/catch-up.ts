/**
 * catchUp(): pull once from every peer live now, by anti-entropy, retrying a
 * round that fails (lost message, timeout) until the deadline. A peer that
 * leaves the live set meanwhile has nothing more to give and is not waited for.
 *
 * catchUpFrom(): pull from named peers until `need` of them completed a
 * round (a new owner catching up from a majority of holders), reporting per
 * peer the process (member id) that answered: the pull goes by name and
 * address, and a peer restarted meanwhile answers as a new process that may
 * hold nothing yet, which the caller must not count as the old one. One transfer
 * at a time: the next peer's round starts once no started round is
 * exchanging entries (checked every pollMs), so an empty node fetches the
 * map once, and the later rounds find their digests (nearly) equal; a peer
 * slow to answer its digest does not hold the others back.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Clock, Timer } from "../types.ts";
import type { AntiEntropy } from "./anti-entropy.ts";
import type { PeerLink } from "./outbox.ts";

/** A completed pull round: from `name`, answered by its process `id` (anti-entropy.ts counts no other's replies). */
export interface PulledFrom {
  name: string;
  id: string;
}

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

export interface PullHost {
  readonly peers: ReadonlyMap<string, PeerLink>;
  readonly ae: AntiEntropy;
  readonly clock: Clock;
  /** this node: named, it counts as completed at once (its data is here) */
  readonly self: PulledFrom;
  /** how often to look again for a named peer that is not a live link */
  readonly pollMs: number;
  stopped(): boolean;
}

/**
 * Pull rounds from each of `names` (retrying a failed round while time
 * remains; a name that is not a live link now is looked for again every
 * pollMs); resolve with the peers that completed (each with the process
 * that answered its round) once `need` did, or reject
 * `unavailable` naming those that did not answer within `timeoutMs`.
 */
export function pullFromSome(h: PullHost, names: readonly string[], need: number, timeoutMs: number, kind: "pull" | "fresh" = "pull"): Promise<PulledFrom[]> {
  if (need <= 0) return Promise.resolve([]);
  const wanted = [...new Set(names)];
  if (wanted.length < need) {
    return Promise.reject(new RoomyError("unavailable", `catch-up needs ${need} peers, only ${wanted.length} named (${wanted.join(", ")})`));
  }
  /** name -> the process whose round completed */
  const done = new Map<string, string>();
  // Per name, the latest attempt: a callback of an earlier one (a round
  // replaced under a new identity also fails its old waiters) is ignored.
  const attempts = new Map<string, number>();
  const polls = new Map<string, Timer>();
  /** names not yet started, in order */
  const queue = wanted.filter((n) => n !== h.self.name);
  const started = new Set<string>();
  return new Promise<PulledFrom[]>((resolve, reject) => {
    let finished = false;
    const end = (err: RoomyError | null): void => {
      if (finished) return;
      finished = true;
      timer.cancel();
      pacer?.cancel();
      for (const t of polls.values()) t.cancel();
      if (err) reject(err);
      else resolve([...done].map(([name, id]) => ({ name, id })));
    };
    const timer = h.clock.setTimer(timeoutMs, () => {
      const silent = wanted.filter((n) => !done.has(n));
      end(new RoomyError("unavailable", `catch-up: ${done.size} of ${need} peers within ${timeoutMs} ms; no answer from ${silent.join(", ")}`));
    });
    const complete = (name: string, id: string): void => {
      done.set(name, id);
      if (done.size >= need) end(null);
      else startNext();
    };
    // Start the next queued peer unless a started one is exchanging entries.
    const startNext = (): void => {
      if (finished || queue.length === 0) return;
      for (const n of started) if (!done.has(n) && h.ae.streaming(n)) return;
      const name = queue.shift()!;
      started.add(name);
      attempt(name);
    };
    let pacer: Timer | null = null;
    const pace = (): void => {
      pacer = h.clock.setTimer(h.pollMs, () => {
        startNext();
        if (!finished && queue.length > 0) pace();
      });
    };
    const attempt = (name: string): void => {
      polls.delete(name);
      if (finished) return;
      if (h.stopped()) return end(new RoomyError("unavailable", "replicator stopped"));
      const link = h.peers.get(name);
      if (link === undefined) {
        polls.set(name, h.clock.setTimer(h.pollMs, () => attempt(name)));
        return;
      }
      const k = (attempts.get(name) ?? 0) + 1;
      attempts.set(name, k);
      h.ae.start(link, (ok) => {
        if (attempts.get(name) !== k || finished) return;
        // The round ran with this link's process (a new one under the name fails it): that one answered.
        if (ok) complete(name, link.id);
        else attempt(name);
      }, kind);
    };
    if (wanted.includes(h.self.name)) {
      done.set(h.self.name, h.self.id);
      if (done.size >= need) return end(null);
    }
    startNext();
    if (queue.length > 0) pace();
  });
}
