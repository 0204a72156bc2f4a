/**
 * One ServingRights on a virtual clock with everything around it faked: a
 * transport that records what it sends, owners that know each holder's id,
 * a lease that vouched for nobody, and a replicator whose catch-up the test
 * decides. Shared by the serving-* tests.
 */
import { SimClock } from "../../../mesh/sim/clock.ts";
import type { HolderConfig } from "../../../mesh/registry/holders.ts";
import type { QuorumLease } from "../../../mesh/registry/lease.ts";
import type { Owners } from "../../../mesh/registry/owners.ts";
import { type FencingReplicator, ServingRights } from "../../../mesh/registry/serving.ts";
import { silentLogger, type Transport } from "../../../mesh/types.ts";

export const LEASE_MS = 1500;

/** A committed holder configuration of generation 1; every holder under its first id (`<name>-id`). */
export const holderConfig = (epoch: number, previous: number, names: string[]): HolderConfig => ({
  generation: 1,
  epoch,
  previous,
  holders: names.map((name) => ({ name, id: `${name}-id` })),
});

export interface Sent {
  to: string;
  msg: { t: string; q: number; e: number };
}

export interface RigOptions {
  self: string;
  /** The node's own id (default `<self>-id`). */
  selfId?: string;
  idOf?: (name: string) => string | undefined;
  /** A whole replicator (a real one, on the simulator), or only its catch-up. */
  replicator?: FencingReplicator;
  catchUpFrom?: FencingReplicator["catchUpFrom"];
  /** Default: a clock of its own at 0. */
  clock?: SimClock;
  catchUpTimeoutMs?: number;
  /** Until when this node's own lease runs (default: it holds none). */
  servingUntil?: () => number;
}

export function servingRig(o: RigOptions) {
  const clock = o.clock ?? new SimClock(0);
  const sent: Sent[] = [];
  const transport = { send: (to: string, msg: Sent["msg"]) => sent.push({ to, msg }) } as unknown as Transport;
  const owners = {
    idOf: o.idOf ?? ((n: string) => `${n}-id`),
    addressOf: (n: string) => n,
    nameOf: (a: string) => a,
    setConfig() {},
  } as unknown as Owners;
  // This node vouched for nobody: its own word frees it at once.
  const lease = { staleFor: () => 0, recompute() {}, pingNow() {}, servingUntil: o.servingUntil ?? (() => -Infinity) } as unknown as QuorumLease;
  const rights = new ServingRights({
    self: { name: o.self, id: o.selfId ?? `${o.self}-id` },
    clock,
    transport,
    logger: silentLogger,
    owners,
    lease,
    replicator: o.replicator ?? { setEpoch() {}, adoptFence() {}, fence: () => 0, catchUpFrom: o.catchUpFrom ?? (() => new Promise(() => {})) },
    retryMs: 100,
    catchUpTimeoutMs: o.catchUpTimeoutMs ?? 5000,
    leaseMs: LEASE_MS,
  });
  return { clock, sent, rights };
}
