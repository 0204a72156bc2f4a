/** The consensus driver's face: what it is given and what it tells. */
import type { MembershipView } from "../membership/types.ts";
import type { Clock, Logger, Random, Transport } from "../types.ts";
import type { Server } from "./types.ts";

/** What the log's commands are applied to. Deterministic: same commands, same results. */
export interface StateMachine {
  /** Apply a command; the result goes to its proposer. Throwing a RoomyError refuses it (still applied, as a no-op). */
  apply(cmd: unknown): unknown;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
  /** Back to the empty state (a new generation). */
  reset(): void;
}

import type { Configuration } from "./types.ts";

export interface ConsensusOptions {
  self: Server;
  clock: Clock;
  random: Random;
  transport: Transport;
  /** Members on this node's side of generations (generation-view.ts): configuration changes and availability read it. */
  membership: MembershipView;
  /** Why a seed refused this node (one line, or null): said in /readyz while no peer answers. */
  seedTrouble?: () => string | null;
  /** Every member (default: `membership`): the generation rules see the nodes of other generations too. */
  everyone?: MembershipView;
  /** Called whenever a member may have moved to or from this node's side (a hello, a tick). */
  onSides?: () => void;
  logger: Logger;
  machine: StateMachine;
  /** Start a generation alone when nobody else is there (no --join seeds; or DNS discovery found nobody). */
  mayBootstrapAlone: boolean | (() => boolean);
  /** How long, from its start, a node that may act alone waits for a cluster it was in to find it before it starts a generation alone (ms; default 0). */
  aloneAfterMs?: number;
  /**
   * How many seeds this node was given (--join and what DNS discovery found,
   * itself left out): with peers and no generation anywhere, a new one starts
   * only once a majority of the seeds and this node said they have none
   * (default 0: no such bound).
   */
  seedCount?: () => number;
  /** How long from its start a node waits to hear every seed before a majority of them may start a generation (generation.ts). */
  seedsWaitMs?: number;
  /** Settings every node must share (--lot, --gates), said in hellos: a peer with others is warned of once (generation.ts). */
  shared?: Readonly<Record<string, string | number>>;
  /** This node drains: a leader hands leadership over, so that another one drops it. */
  selfDraining?: () => boolean;
  /** Members (by name) that said they are draining: the next configuration drops them. */
  draining?: () => ReadonlySet<string>;
  /**
   * Whether the configuration may move on from `committed`: the registry
   * says a majority of its holders caught up for its epoch (each change
   * then keeps every acknowledged write on a majority of the holders).
   */
  mayChange?: (committed: Configuration, next: Configuration) => boolean;
  /** Whether member `name`, outside the configuration, may be added now (it pulled the holders' data). */
  mayAdd?: (name: string) => boolean;
  tickMs?: number;
  electionTicks?: number;
  maxVoters?: number;
  compactEvery?: number;
  timeoutMs?: number;
  /** A peer sent a malformed consensus message: drop its connection. */
  onMalformed?: (address: string) => void;
  /** Run soon, after this turn (the runtime's setImmediate); default a 0 ms timer (the simulator's). */
  defer?: (fn: () => void) => void;
}

export interface ConsensusStatus {
  leader: string | null;
  term: number;
  epoch: number;
  generation: number;
  commit: number;
  applied: number;
  voters: string[];
  learners: string[];
  role: string;
  /** Why writes cannot be served now, or null. */
  unavailable: string | null;
}

export interface ConsensusStats {
  leaderChanges: number;
  generationsStarted: number;
  generationsEnded: number;
  proposals: number;
  proposalsFailed: number;
  /** this node's proposals and reads handed to a peer (relay.ts), and those it relayed for others */
  proposalsRelayed: number;
  readsRelayed: number;
  relayedForOthers: number;
}

