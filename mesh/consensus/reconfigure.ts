/**
 * Which one configuration change the leader proposes next, from who is
 * live. Pure: the driver feeds it membership and progress; the simulator
 * feeds it the same way. One server at a time, in this order:
 *  1. drop a voter that is gone (dead, left, or back under a new id), but
 *     not one Raft still hears under its name; one that drains (still
 *     answering) only once a ready learner, if any, has brought the voters
 *     that stay up to their target;
 *  2. promote a caught-up learner while voters < the target (odd, <= max);
 *     demote a live voter (never this leader) while voters > the target and
 *     > 3 and every voter is live: an even count tolerates no more failures
 *     than the odd one below it, and one more voter is one more that can
 *     fail (4 die with any 2);
 *  3. add a live member not yet in as a learner (a learner gone under a
 *     name a live member took is dropped first: one incarnation per name);
 *  4. drop a learner that is gone.
 * A restarted node is a new id: it is added as a learner and promoted only
 * once its log matches the leader's commit, so it never votes on a log it lacks.
 */
import { type Configuration, placedAt, type Server } from "./types.ts";

export interface ReconfigureInput {
  config: Configuration;
  self: Server;
  /** Members alive now (self included), by id: the ones to keep or add. */
  live: readonly Server[];
  /**
   * Members that still answer, by id, when not all of them are to be kept:
   * a draining node is left out of `live` (the next configuration drops it)
   * but acknowledges entries until it exits, so it counts towards committing
   * a change that drops another draining voter. Default: `live`.
   */
  answering?: readonly Server[];
  /** This leader drains: with no other live voter it promotes a learner first, to hand leadership to. */
  selfDraining?: boolean;
  /**
   * Whether Raft heard from this server lately (the leader's view). A voter
   * that membership holds dead, but that still answers Raft and whose name
   * no newer process took, is kept: membership's news lags a healed
   * partition, and dropping a live voter while another had just crashed
   * (counted live for the same reason) left a change that could never
   * commit, in force on the leader only, and two voters that could never
   * elect anyone. Default: never heard.
   */
  heard?(id: string): boolean;
  /** Match index of a server as the leader knows it. */
  match(id: string): number;
  commit: number;
  maxVoters: number;
}

/** The odd number of voters to aim for with `n` live members. */
export function targetVoters(n: number, maxVoters: number): number {
  const t = Math.min(n, maxVoters);
  return t % 2 === 0 ? Math.max(1, t - 1) : t;
}

/**
 * Whether a learner is still to be promoted: the leader promotes caught-up
 * learners while voters < the target. Until then the node is not ready
 * (/readyz): right after a 3-node start the configuration is {n1, n2} with
 * n3 a learner, and losing n1 then leaves no majority to elect anyone, so
 * "all three ready" must mean all three vote.
 */
export function awaitingPromotion(o: { voters: number; selfLearner: boolean; live: number; maxVoters: number }): boolean {
  return o.selfLearner && o.voters < targetVoters(o.live, o.maxVoters);
}

export function nextConfiguration(input: ReconfigureInput): Configuration | null {
  const found = candidate(input);
  if (found === null) return null;
  const next = withPlacement(input.config, found);
  // A configuration takes effect when appended: one whose live voters are
  // no majority of it can never commit, and its leader steps down with a
  // longer log than the others, who then cannot elect anyone (removing a
  // partitioned voter while another voter is gone did exactly that).
  // Draining voters still answer: with two of three draining at once, the
  // first is dropped with the second's acknowledgement, then the second.
  const answering = new Set((input.answering ?? input.live).map((s) => s.id));
  if (next.voters.filter((v) => answering.has(v.id)).length < Math.floor(next.voters.length / 2) + 1) return null;
  return next;
}

function candidate(input: ReconfigureInput): Configuration | null {
  const { config, self, live } = input;
  const liveIds = new Set(live.map((s) => s.id));
  const epoch = config.epoch + 1;
  const gone = (s: Server): boolean => s.id !== self.id && !liveIds.has(s.id);

  const promotion = (): Configuration | null => {
    const promote = config.learners
      .filter((s) => liveIds.has(s.id) && input.match(s.id) >= input.commit)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0];
    if (promote === undefined) return null;
    return { epoch, voters: [...config.voters, promote], learners: config.learners.filter((s) => s.id !== promote.id) };
  };
  const answering = input.answering ?? [];
  const answeringIds = new Set(answering.map((s) => s.id));
  const replaced = (s: Server): boolean => answering.some((x) => x.name === s.name && x.id !== s.id);
  const droppable = (s: Server): boolean => gone(s) && (answeringIds.has(s.id) || replaced(s) || input.heard?.(s.id) !== true);
  const goneVoter = config.voters.find(droppable);
  if (goneVoter !== undefined) {
    // A draining voter still answers: before dropping it, promote a ready
    // learner while the voters that stay are fewer than their target. Drop
    // first, and two of {n1, n2, n3} draining with learners n4, n5 live went
    // {n1, n3}, {n1}: all rested on n1 (a kill -9 of it then needed
    // `recover --force`) until the learners were promoted at the end.
    if (answeringIds.has(goneVoter.id)) {
      const staying = live.filter((s) => s.id !== self.id || input.selfDraining !== true);
      const stayingIds = new Set(staying.map((s) => s.id));
      const stayingVoters = config.voters.filter((s) => stayingIds.has(s.id)).length;
      const early = stayingVoters < targetVoters(staying.length, input.maxVoters) ? promotion() : null;
      if (early !== null) return early;
    }
    return { epoch, voters: config.voters.filter((s) => s.id !== goneVoter.id), learners: config.learners };
  }
  const target = targetVoters(live.length, input.maxVoters);
  // A draining leader that is the only voter left (a 2-node cluster's one
  // voter told to stop) first makes a successor, or its leaving would leave
  // the learners a configuration they cannot change.
  const successor = input.selfDraining === true && !config.voters.some((s) => s.id !== self.id && liveIds.has(s.id));
  if (config.voters.length < target || successor) {
    const promoted = promotion();
    if (promoted !== null) return promoted;
  }
  // Never below three voters by demotion: two voters are no worse than one
  // to lose, and a lone voter makes its restart end the generation. And
  // never while a voter is away (gone but still heard, so not yet dropped):
  // the live voter given up is a vote the cluster then lacks. Five voters,
  // two crashed at once, one of them still heard and one not yet known
  // dead: demoting n5 left {n1, n4} live of four voters, which could never
  // commit anything again (soak, two-at-once seed 2). Raft must hear every
  // one of them too: membership's news of a death lags.
  const allAnswer = config.voters.every((s) => liveIds.has(s.id) && (s.id === self.id || input.heard === undefined || input.heard(s.id)));
  if (config.voters.length > Math.max(target, 3) && allAnswer) {
    const spare = config.voters
      .filter((s) => s.id !== self.id)
      .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0))[0];
    if (spare !== undefined) {
      return { epoch, voters: config.voters.filter((s) => s.id !== spare.id), learners: [...config.learners, spare] };
    }
  }
  // One name, one incarnation: a restarted learner's old id leaves before its
  // new one comes in. With both in, the registry, which knows a holder by
  // name, took the old one's place for the new one's, counted no answer from
  // that name, and fenced forever; the change dropping the old id then waited
  // on that fence (soak, 3 voters of 5, two at once: seed 562).
  const replacedLearner = config.learners.find((s) => gone(s) && live.some((x) => x.name === s.name && x.id !== s.id));
  if (replacedLearner !== undefined) {
    return { epoch, voters: config.voters, learners: config.learners.filter((s) => s.id !== replacedLearner.id) };
  }
  const known = new Set([...config.voters, ...config.learners].map((s) => s.id));
  const held = new Set([...config.voters, ...config.learners].map((s) => s.name));
  const newcomer = live.find((s) => !known.has(s.id) && !held.has(s.name));
  if (newcomer !== undefined) {
    return { epoch, voters: config.voters, learners: [...config.learners, newcomer] };
  }
  const goneLearner = config.learners.find(gone);
  if (goneLearner !== undefined) {
    return { epoch, voters: config.voters, learners: config.learners.filter((s) => s.id !== goneLearner.id) };
  }
  return null;
}

/** `next` stamped with where its holders were placed: its own epoch if they changed, else the one before. */
export function withPlacement(prev: Configuration, next: Configuration): Configuration {
  const ids = (c: Configuration): string => [...c.voters, ...c.learners].map((x) => x.id).sort().join(",");
  if (ids(prev) === ids(next)) {
    const same: Configuration = { ...next, placed: placedAt(prev), prevPlaced: prev.prevPlaced ?? 0 };
    if (prev.prevHolders !== undefined) same.prevHolders = prev.prevHolders;
    return same;
  }
  const names = [...new Set([...prev.voters, ...prev.learners].map((x) => x.name))].sort();
  return { ...next, placed: next.epoch, prevPlaced: placedAt(prev), prevHolders: names };
}
