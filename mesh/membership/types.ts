/**
 * What the rest of the node (registry, replication, HTTP) sees of membership.
 * The SWIM + Lifeguard implementation in this folder provides it; tests may
 * provide a static one.
 */
import type { Address } from "../types.ts";

export type MemberState = "alive" | "suspect" | "dead" | "left";

export interface Member {
  /** Stable node name (e.g. pod name); a restarted node keeps it. */
  name: string;
  /** Per-process-start identity; a restarted node gets a new one. */
  id: string;
  /** Advertised mesh address. */
  address: Address;
  state: MemberState;
  incarnation: number;
}

export type MemberEventType = "up" | "suspect" | "alive" | "down" | "left";

/**
 * up: a member (or a new identity of a name) joined;
 * suspect: it stopped answering probes; alive: a suspect refuted;
 * down: declared dead; left: announced a graceful leave.
 */
export interface MemberEvent {
  type: MemberEventType;
  member: Member;
}

export interface MembershipView {
  /** This node, always alive from its own point of view. */
  self(): Member;
  /** Every member known, in any state, sorted by name. */
  members(): Member[];
  /**
   * Members that count for placement and replication: alive or suspect
   * (a suspect still owns its names until declared dead), self included,
   * sorted by name.
   */
  live(): Member[];
  /** Subscribe to member events; returns an unsubscribe function. */
  subscribe(fn: (ev: MemberEvent) => void): () => void;
  /**
   * What to take off a time read on the clock of the node at `address` to
   * have the earliest our clock could then read (clock-offsets.ts); absent
   * or 0: clocks taken as equal.
   */
  clockCorrection?(address: Address): number;
  /** The measured offset of the clock of the node at `address` from ours (theirs minus ours), if measured. */
  clockOffset?(address: Address): number | undefined;
  /** A newer process under this node's name, heard of alive and not since dead: the members count that one, so this one is out while it runs. */
  supersededBy?(): { id: string; address: Address } | null;
  /** That newer process, since heard dead or left: the members take this one back once they forget it, in `inMs`. */
  supersederGone?(): { id: string; address: Address; inMs: number } | null;
}
