/**
 * What the parts of one membership instance share: the injected clock,
 * randomness and logger, the member table, the broadcast queue, the local
 * health score, counters, and a send that piggybacks queued updates.
 */
import type { ClockOffsets } from "./clock-offsets.ts";
import type { Address, Clock, Logger, Message, Random } from "../types.ts";
import type { Awareness } from "./awareness.ts";
import type { BroadcastQueue } from "./broadcast.ts";
import type { MembershipConfig } from "./config.ts";
import type { MemberTable } from "./state.ts";

/** Counters for metrics; see Membership.stats(). */
export interface Counters {
  probes: number;
  probeFailures: number;
  indirectProbes: number;
  suspicions: number;
  refutes: number;
  deaths: number;
  messagesSent: number;
  messagesReceived: number;
  gossipSent: number;
  gossipReceived: number;
  updatesReceived: number;
  pushPulls: number;
}

export function newCounters(): Counters {
  return {
    probes: 0,
    probeFailures: 0,
    indirectProbes: 0,
    suspicions: 0,
    refutes: 0,
    deaths: 0,
    messagesSent: 0,
    messagesReceived: 0,
    gossipSent: 0,
    gossipReceived: 0,
    updatesReceived: 0,
    pushPulls: 0,
  };
}

export interface Ctx {
  readonly cfg: Readonly<MembershipConfig>;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly table: MemberTable;
  readonly queue: BroadcastQueue;
  readonly awareness: Awareness;
  readonly counters: Counters;
  /** Peers' clocks against ours, from direct probes. */
  readonly offsets: ClockOffsets;
  /** False once stop() ran: timers and handlers then do nothing. */
  running(): boolean;
  /** True from leave() on: no more probing or accusing. */
  leaving(): boolean;
  /** A sequence number unique within this process. */
  nextSeq(): number;
  /**
   * Send `msg`, piggybacking queued updates. With `onlyIfNews`, send nothing
   * (and return false) when there is nothing to piggyback.
   */
  send(to: Address, msg: Message, onlyIfNews?: boolean): boolean;
}
