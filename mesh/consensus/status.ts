/** What a node tells of its log (GET /v1/consensus, /readyz's reason, the logs). */
import { RoomyError } from "../../core/errors.ts";
import type { Member } from "../membership/types.ts";
import type { Logger } from "../types.ts";
import type { ConsensusStatus } from "./driver-types.ts";
import type { RaftCore } from "./raft.ts";
import { quorum } from "./types.ts";

export function describe(core: RaftCore | null, generation: number, applied: number, unavailable: string | null): ConsensusStatus {
  const committed = core?.committedConfig() ?? { epoch: 0, voters: [], learners: [] };
  const leaderId = core?.leader() ?? null;
  const known = [...committed.voters, ...committed.learners, ...(core?.config.voters ?? [])];
  return {
    leader: leaderId === null ? null : known.find((s) => s.id === leaderId)?.name ?? null,
    term: core?.term ?? 0,
    epoch: committed.epoch,
    generation,
    commit: core?.commit ?? 0,
    applied,
    voters: committed.voters.map((s) => s.name).sort(),
    learners: committed.learners.map((s) => s.name).sort(),
    role: core === null ? "none" : core.state.role,
    unavailable,
  };
}

/** Why writes cannot be served now (no leader), or null when a leader is known. */
export function whyNoLeader(core: RaftCore, live: readonly Member[]): string | null {
  if (core.leader() !== null) return null;
  const c = core.committedConfig();
  const ids = new Set(live.map((m) => m.id));
  const up = c.voters.filter((v) => ids.has(v.id)).length;
  if (up < quorum(c)) return `no majority of voters: ${up} of ${c.voters.length} alive`;
  return ELECTING;
}

/** The reason while a majority is alive and a leader is being chosen: routine (a leader drained or died), said at INFO. */
export const ELECTING = "electing a leader";

/** Logs why writes cannot be served, once per change of reason (and when they can again); the reason now. */
export function logAvailability(logger: Logger, was: string | null, why: string | null, leader: () => string | null, term: number): string | null {
  if (why === was) return was;
  // An election with a majority alive is routine (each drain of a leader has one): WARN is for what needs a look.
  if (why === ELECTING) logger.info("consensus: unavailable", { reason: why, term });
  else if (why !== null) logger.warn("consensus: unavailable", { reason: why, term });
  else if (was !== null) logger.info("consensus: available again", { leader: leader(), term });
  return why;
}

/**
 * Why a new proposal or read is refused at once, nothing proposed
 * (`no_effect`): the node stopping, or no leader known and too few voters
 * alive to elect one, which nothing but their return can end (waiting out
 * the timeout only made a caller wait 3 s for the same answer). Null: it
 * may go ahead.
 */
export function refusedAtOnce(stopped: boolean, core: RaftCore | null, live: readonly Member[]): RoomyError | null {
  if (stopped) return new RoomyError("unavailable", "consensus: node stopping");
  const why = core === null ? null : whyNoLeader(core, live);
  return why === null || why === ELECTING ? null : new RoomyError("unavailable", `consensus: ${why}`, true);
}
