/** The generation keeper's (generation.ts) options, and what it knows of each peer. */
import type { MembershipView } from "../membership/types.ts";
import type { Address, Clock, Logger, Message } from "../types.ts";
import type { Server } from "./types.ts";

export interface GenerationInfo {
  generation: number;
  /** This node started it (and so bootstraps the log). */
  bootstrap: boolean;
  /** The generation it ended knowingly, or 0. */
  recoveredFrom: number;
}

export interface PeerReport {
  name: string;
  generation: number;
  recoveredFrom: number;
  /** Entries it applied (0 from a node before this field). */
  applied: number;
  /** Its log's last entry (term, index), said since recoveries take the whole log; absent from a node before. */
  last?: { term: number; index: number };
  at: number;
  /** it takes relayed proposals and reads (relay.ts); a node from before them closes the connection on one */
  relays: boolean;
  /** in no generation: the one it will join (0: none yet) */
  joining: number;
}

export interface GenerationOptions {
  self: Server;
  membership: MembershipView;
  clock: Clock;
  logger: Logger;
  /** Whether this node may start a generation alone when nobody else is there (read each time). */
  mayBootstrapAlone: () => boolean;
  send(to: Address, msg: Message): void;
  /** How often to tell peers our generation (ms). */
  helloMs?: number;
  /** How long a node that may act alone waits, from its start, for a cluster it was in to find it (ms; default 0). */
  aloneAfterMs?: number;
  /** How many seeds this node was given, itself left out (default 0). */
  seedCount?: () => number;
  /** How long from its start a node in no generation waits to hear every seed before a majority may start one (ms; default 0: #seedsUnheard). */
  seedsWaitMs?: number;
  /** Entries this node applied in its generation (said in hellos). */
  applied?: () => number;
  /** This node's log's last entry in its generation (said in hellos: the survivor with the most up-to-date log recovers). */
  lastLog?: () => { term: number; index: number } | null;
  /** How long a generation must look provably over before this node acts on it (ms; default 4 hellos). */
  overAfterMs?: number;
  /** Called after anything that may move a member to or from this node's side (generation-view.ts refresh). */
  onSides?: () => void;
  /** Settings every node must share (--lot, --gates): said in hellos, a peer with others warned of once. */
  shared?: Readonly<Record<string, string | number>>;
  /** Every process of the generation this node meant to join restarted before it was added (#side): what only its log held is gone. */
  onLost?: (generation: number) => void;
  /** Why a seed refused this node, if one did (a seed given as an admin API port answers in HTTP). */
  seedTrouble?: () => string | null;
}
