/**
 * The Raft core's vocabulary. Servers are named by their member id (one per
 * process start, mesh/membership/identity.ts), never by their stable name:
 * a restarted node is a new server that never held the votes or log of its
 * predecessor, so it cannot vote from a term it forgot. It comes back as a
 * learner and is promoted only after catching up.
 */

/** A member id: per process start. */
export type ServerId = string;

export interface Server {
  id: ServerId;
  /** Stable node name (shown to people; a restarted node keeps it). */
  name: string;
  /** Mesh address the server listened on when it was added. */
  address: string;
}

/**
 * Who is in. `epoch` grows by one with every configuration change; the
 * registry's serving rights rest on the committed one. `placed` is the epoch
 * at which its members (voters and learners together, the data holders)
 * were last changed, and `prevPlaced` the one before: a promotion keeps
 * `placed`, so names do not move, and a node that learned configurations
 * with gaps still knows whether any placement happened in between.
 * Absent (older entries): `placed` is `epoch`.
 */
export interface Configuration {
  epoch: number;
  placed?: number;
  prevPlaced?: number;
  /** The holders' names of the placement before (a node new to the cluster learns whose handoff to wait for). */
  prevHolders?: string[];
  voters: Server[];
  learners: Server[];
}

/** The epoch at which `c`'s holders were placed. */
export function placedAt(c: Configuration): number {
  return c.placed ?? c.epoch;
}

export const ENTRY_NOOP = 0;
export const ENTRY_COMMAND = 1;
export const ENTRY_CONFIG = 2;
export type EntryKind = typeof ENTRY_NOOP | typeof ENTRY_COMMAND | typeof ENTRY_CONFIG;

/** One entry of the Raft log. */
export interface LogEntry {
  term: number;
  index: number;
  kind: EntryKind;
  /** A command (kind 1) or a Configuration (kind 2); null for a no-op. */
  data: unknown;
}

/** A state machine image at `index` (inclusive), with the configuration in force there. */
export interface Snapshot {
  index: number;
  term: number;
  config: Configuration;
  data: Uint8Array;
}

/** What the leader learned about a read: serve it once applied >= index. */
export interface ReadState {
  ctx: number;
  index: number;
}

/** Roles as a union: each carries only what it needs. */
export type RoleState =
  | { role: "follower"; leader: ServerId | null }
  | { role: "precandidate"; granted: Set<ServerId> }
  | { role: "candidate"; granted: Set<ServerId> }
  | { role: "leader" };

export type Role = RoleState["role"];

export function isVoter(config: Configuration, id: ServerId): boolean {
  for (const s of config.voters) if (s.id === id) return true;
  return false;
}

export function isMember(config: Configuration, id: ServerId): boolean {
  if (isVoter(config, id)) return true;
  for (const s of config.learners) if (s.id === id) return true;
  return false;
}

export function quorum(config: Configuration): number {
  return Math.floor(config.voters.length / 2) + 1;
}

/** Every server of the configuration, voters first. */
export function servers(config: Configuration): Server[] {
  return [...config.voters, ...config.learners];
}
