/**
 * Whether this generation can provably never commit again, and what this
 * node then does. A voter that restarted is a new process (a new id): its
 * old id never answers again. When the voters of the committed
 * configuration that still could answer are fewer than a majority, nothing
 * can be committed in this generation, ever: two of three killed -9 and
 * started again, the survivor waited for them to be added (impossible
 * without a majority) and they for it, for good, until an operator ran
 * `roomy recover --force`.
 *
 * Then, once the restarted voters' new processes are all heard from:
 *  - all in no generation (waiting to be added to this one): the survivor
 *    holding the most applied entries (then the smallest name) starts the
 *    next generation from its own state, as `roomy recover --force` would;
 *    the other survivors see it recovered from theirs and join it, the
 *    restarted ones are added to it. Not while any node outside this
 *    configuration says it is in this generation and applied more than this
 *    node: that one shows the generation may live on elsewhere (this node's
 *    configuration stale: a promotion's learner applied its addition first);
 *  - all in one other generation (they started it while cut off from the
 *    survivors: a majority of each other's seeds): this node leaves its
 *    generation and waits to be added to theirs, its replica's data merging
 *    into it. Leaving harms nobody: a generation alive elsewhere goes on.
 * Everything here is what the caller heard recently (fresh hellos).
 */
import type { Configuration, Server } from "./types.ts";

export interface OverInput {
  self: Server;
  config: Configuration;
  /** Members alive now (self included). */
  live: readonly { id: string; name: string }[];
  /** What process `id` said recently (its generation, how many entries it applied, its log's last entry), or undefined. */
  report(id: string): { generation: number; applied: number; last?: LastEntry } | undefined;
  /** This node's generation and applied index, and its log's last entry. */
  generation: number;
  applied: number;
  last?: LastEntry | undefined;
}

export interface LastEntry {
  term: number;
  index: number;
}

type Survivor = { name: string; applied: number; last?: LastEntry | undefined };

/**
 * Whether survivor `a` should start the next generation before `b`: the
 * more up-to-date log (Raft's order: last term, then last index), since a
 * recovery keeps the whole log and an entry committed without the dead
 * voters is in it; by applied entries when any survivor is from before
 * logs were said (`byLog` false: one order for all, so every survivor
 * picks the same one); then the smaller name.
 */
function ahead(a: Survivor, b: Survivor, byLog: boolean): boolean {
  if (byLog && a.last !== undefined && b.last !== undefined) {
    if (a.last.term !== b.last.term) return a.last.term > b.last.term;
    if (a.last.index !== b.last.index) return a.last.index > b.last.index;
  } else if (a.applied !== b.applied) return a.applied > b.applied;
  return a.name < b.name;
}

/**
 * `tail`: the recovery may keep the survivor's whole log, not only what it
 * knew committed (driver.ts recover). Only when the restarted voters are
 * fewer than a majority (every committed entry then had a survivor's ack,
 * so the most up-to-date survivor log holds it, and a stale copy of a
 * request after it is dropped as a duplicate) and the survivors were ranked
 * by their logs. Else a survivor's stale, never committed copy of a request
 * whose committed copy only the dead voters held (and whose client got a
 * definite answer, such as lot_full) could take effect.
 */
export type Over = { kind: "recover"; tail?: true } | { kind: "join"; generation: number } | { kind: "wait"; why: string };

/** Whether voter `v` is back under a new id: its own id is not live, another process under its name is. */
export function restartedVoter(v: Server, selfId: string, live: OverInput["live"]): boolean {
  return v.id !== selfId && !live.some((m) => m.id === v.id) && live.some((m) => m.name === v.name);
}

/** Null while the generation may still commit; else what to do. */
export function generationOver(i: OverInput): Over | null {
  const { voters, learners } = i.config;
  if (!voters.some((v) => v.id === i.self.id)) return null; // a learner's committed configuration may be old (replaying)
  const liveIds = new Set(i.live.map((m) => m.id));
  const restarted = voters.filter((v) => restartedVoter(v, i.self.id, i.live));
  const majority = Math.floor(voters.length / 2) + 1;
  if (voters.length - restarted.length >= majority) return null;
  const successors = restarted.map((v) => i.live.find((m) => m.name === v.name)!);
  const theirs = successors.map((m) => i.report(m.id)?.generation);
  if (theirs.some((g) => g === undefined)) return { kind: "wait", why: "not yet heard from every restarted voter" };
  if (theirs.some((g) => g === i.generation)) return null; // re-added: the generation lives
  const other = theirs[0]!;
  if (other !== 0) return theirs.every((g) => g === other) ? { kind: "join", generation: other } : { kind: "wait", why: "the restarted voters are in different generations" };
  // A node outside this configuration in this generation that applied more
  // than this node knows a committed entry this node lacks: maybe a later
  // configuration. One that applied no more only took the log's tail (the
  // leader appended its addition, which never committed): evidence of
  // nothing. Counting it too left a 5-node cluster unavailable for good (the
  // nemesis on real processes, seed 1): a recovered generation's leader (of
  // voters n3, n5) appended n1's addition and was killed before it
  // committed; n5 waited for n1, which only had the tail, and n1, the others
  // and the restarted n3 waited for n5.
  // That holds only while every learner of this configuration is accounted
  // for (back under a new id, or here in this generation having applied no
  // more): one not heard from may have been promoted beyond a cut, its
  // generation committing there, and an outside node in the generation is
  // then the one sign of it left (a reviewer's 7-node counterexample).
  const holders = new Set([...voters, ...learners].map((s) => s.id));
  const learnersAccounted = learners.every((l) => {
    if (restartedVoter(l, i.self.id, i.live)) return true;
    const r = liveIds.has(l.id) ? i.report(l.id) : undefined;
    return r !== undefined && r.generation === i.generation && r.applied <= i.applied;
  });
  const elsewhere = i.live.some((m) => {
    if (holders.has(m.id) || m.id === i.self.id) return false;
    const r = i.report(m.id);
    return r !== undefined && r.generation === i.generation && (!learnersAccounted || r.applied > i.applied);
  });
  if (elsewhere) return { kind: "wait", why: "a node outside this configuration is in this generation" };
  // The survivor with the most up-to-date log starts the next one (ahead()).
  const survivors: Survivor[] = [{ name: i.self.name, applied: i.applied, last: i.last }];
  for (const v of voters) {
    if (v.id === i.self.id || !liveIds.has(v.id)) continue;
    const r = i.report(v.id);
    if (r === undefined || r.generation !== i.generation) return { kind: "wait", why: `not yet heard from the survivor ${v.name}` };
    survivors.push({ name: v.name, applied: r.applied, last: r.last });
  }
  const byLog = survivors.every((x) => x.last !== undefined);
  let best = survivors[0]!;
  for (const x of survivors) if (ahead(x, best, byLog)) best = x;
  if (best.name !== i.self.name) return { kind: "wait", why: `the survivor ${best.name} starts the next generation` };
  return byLog && restarted.length < majority ? { kind: "recover", tail: true } : { kind: "recover" };
}
