/**
 * Named processes across the cluster, shaped like Elixir's Swarm: each name
 * lives on exactly one node (its owner by rendezvous hashing over the live
 * members), has one mailbox that handles one message at a time, and is
 * reached from any node by its name.
 */

/** What a process is made of. All hooks are optional but `handle`. */
export interface ProcessHandlers {
  /** Handle one message; the mailbox never runs two at once. */
  handle(msg: unknown): unknown | Promise<unknown>;
  /** Swarm's begin_handoff: the state to give the next owner (undefined: start fresh there). */
  beginHandoff?(): unknown;
  /** Swarm's end_handoff: take the state the previous owner gave up. */
  endHandoff?(state: unknown): void;
  /** Swarm's resolve_conflict: another copy's state met ours after a partition. */
  resolveConflict?(other: unknown): void;
  /** The process is going away (moved or node stopping). */
  stop?(): void;
}

/** Builds the process for a name (e.g. "room:kitchen") when its owner needs it. */
export type ProcessFactory = (name: string) => ProcessHandlers;

/**
 * Asked on the owner, caught up and serving, before a call starts a process
 * that is not running: an error refuses the call and no process is made
 * (a read of a room that does not exist must not leave a process behind).
 */
export type StartRefusal = (name: string, msg: unknown) => Error | null;

export interface CallOptions {
  /** Give up after this long with `unavailable` (default: registry's). */
  timeoutMs?: number;
  /** Aborts when the caller's own client left (its HTTP connection closed): a node that holds the call, just woken from a stall, refuses it unrun (stalled-calls.ts). */
  left?: AbortSignal;
}

export interface Registry {
  /** Processes whose names start with `prefix` (e.g. "room:") are built by `factory`. */
  define(prefix: string, factory: ProcessFactory, refuse?: StartRefusal): void;
  /** Send `msg` to the process `name` wherever it lives and await its reply. */
  call<R = unknown>(name: string, msg: unknown, opts?: CallOptions): Promise<R>;
  /** Send without waiting for a reply. */
  cast(name: string, msg: unknown): void;
  /** The node name that owns `name` now. */
  ownerOf(name: string): string;
  /** Names of the processes running on this node, sorted. */
  localNames(): string[];
  /** Groups (Swarm's join/leave/members/publish/multi_call). */
  join(group: string, name: string): Promise<void>;
  leave(group: string, name: string): Promise<void>;
  members(group: string): string[];
  publish(group: string, msg: unknown): void;
  /** Call every member of `group`; replies gathered within the timeout, failures left out. */
  multiCall<R = unknown>(group: string, msg: unknown, opts?: CallOptions): Promise<R[]>;
  /** Hand every local process off and stop accepting new ones (drain). */
  drain(): Promise<void>;
  /**
   * Whether this node's replica may answer for the cluster (that a room does
   * not exist, where a person is): it caught up for its epoch and holds the
   * quorum lease (a majority of the members vouches for it), so it is not a
   * node cut off with only other restarted, empty peers. Always true for a
   * cluster of one.
   */
  authoritative(): boolean;
  /**
   * Resolves once this replica holds every write acknowledged before the
   * call (it pulls from enough holders to make a majority with it, a round
   * shared by the reads waiting); rejects `unavailable` when it cannot.
   */
  readBarrier(): Promise<void>;
  /**
   * Before a write of a key other nodes also write (a person's room):
   * resolves once this node's clock has observed the clocks of enough
   * holders to make a majority with it, asked after the call, so its next
   * stamp is later than any write acknowledged before the call
   * (clock-barrier.ts); rejects `unavailable` when it cannot.
   */
  writeBarrier(): Promise<void>;
  /** Whether `name` runs here, is owned here, and this node may serve it now. */
  isServing(name: string): boolean;
  /**
   * Inside a handler, synchronously: the deadline (this node's clock) of the
   * call it handles, after which its caller has been answered `unavailable`;
   * null outside one. A handler that acts after awaiting checks it first.
   */
  callDeadline(): number | null;
  /**
   * Inside a handler, synchronously: whether its call came from another
   * holder of the configuration, with that holder's clock reading taken as
   * it sent (after the call began), observed here, where that one holder
   * and this node make a majority: the write barrier's work is done.
   */
  callVouched(): boolean;
  stats(): RegistryStats;
}

export interface RegistryStats {
  processes: number;
  handoffsOut: number;
  handoffsIn: number;
  callsLocal: number;
  callsRemote: number;
  forwards: number;
}
