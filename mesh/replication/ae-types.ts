/** The types anti-entropy (anti-entropy.ts, ae-push.ts) shares. */
import type { Timestamp } from "../../core/crdt/hlc.ts";
import type { Delta, LwwMap } from "../../core/crdt/lww-map.ts";
import type { Address, Clock, Logger, Message } from "../types.ts";
import type { ReplicationConfig } from "./config.ts";
import type { Sender } from "./messages.ts";
import type { OutStream } from "./stream.ts";

export interface AePeer {
  name: string;
  id: string;
  address: Address;
}

/** What anti-entropy needs from the replicator around it. */
export interface AeHost {
  readonly self: Sender;
  readonly map: LwwMap;
  readonly clock: Clock;
  readonly config: ReplicationConfig;
  readonly logger: Logger;
  /** The runtime's next turn, if any (stream.ts): received chunks are merged on it (chunk-queue.ts). */
  readonly nextTurn?: ((fn: () => void) => void) | undefined;
  send(to: Address, msg: Message): boolean;
  /** Merge remote entries (observe their timestamps, emit changes). False if refused. */
  mergeRemote(delta: Delta, from: Sender): boolean;
  /** Our digest equalled (name, id)'s while our tombstone arrival counter was `seq`. */
  equal(name: string, id: string, seq: number): void;
  /** The tombstone arrival counter now. */
  arrivalSeq(): number;
  /** Drop these tombstones: a peer proved they are everywhere by collecting them. */
  forget(keys: string[]): void;
  /** Whether writes to `name` are in flight (its digest differs from ours anyway). */
  sendingTo(name: string): boolean;
}

export type Done = (ok: boolean) => void;

/** "fresh": a pull whose digests are compared after it was asked (a read barrier): it joins no round begun before. */
export type RoundKind = "periodic" | "urgent" | "pull" | "fresh";

export interface Round {
  r: number;
  peer: AePeer;
  /** the responder may not decline it */
  urgent: boolean;
  /** arrival seq when our digest was taken */
  seq: number;
  startedAt: number;
  /** when the peer last answered anything of this round */
  progressAt: number;
  chunk: number;
  /** leaf flags (DIFFERS, THEIRS, MINE) once the leaf digests came */
  want: Uint8Array | null;
  /** differing leaves where we hold entries (0: no push back) */
  mine: number;
  /** waiting for another round's transfer to end (see onLeaves) */
  parked: boolean;
  /** the `lw` asked, kept to ask again if it was lost */
  ask: Message | null;
  got: Set<number>;
  /** index of the last chunk, once seen */
  last: number;
  /** key -> timestamp the responder sent, kept only if we hold entries in differing leaves */
  received: Map<string, Timestamp> | null;
  /** our prints the responder matched nothing to (null: all, or not told) */
  unmatched: Set<number> | null;
  /** the prints of our entries in the leaves both sides fill, on their way */
  prints: OutStream<number> | null;
  /** the responder's collection horizon, as its answer said */
  horizon: Timestamp | null;
  done: Done[];
}

export interface AeCounters {
  started: number;
  completed: number;
  declined: number;
  equal: number;
  timeouts: number;
  entriesSent: number;
  entriesReceived: number;
  /** leaves found differing (what a round costs, in leaves) */
  leavesDiffering: number;
  chunksResent: number;
  /** rounds that waited for another transfer and started over */
  resumed: number;
}

export interface Streamed {
  r: number;
  stream: OutStream;
}
