/**
 * Before a node starts a process it owns but did not receive by handoff (or
 * resumes one after its lease lapsed), it asks every member that has not
 * left whether the name is running or starting there. It may go ahead only
 * when, in one round:
 *
 *  - every LIVE peer answered ACT_FREE: nothing of the name there, and in
 *    that peer's view the asker owns it (a peer that has not yet seen the
 *    asker join would otherwise start its own copy a moment later without
 *    asking it);
 *  - every other peer (dead in the asker's view, perhaps wrongly: views lag)
 *    either answered FREE too, or is FENCED: a majority of the voters, not
 *    counting it, did not vouch for it within the lease window, so it holds
 *    no lease and serves nothing (two majorities intersect; lease.ts).
 *
 * Two nodes that both think they own a name each answer the other ACT_MINE,
 * so neither starts until the views agree: a node answers FREE only if it
 * was not starting the name, i.e. before it sent its own query, and both
 * cannot have answered before the other asked. A process also serves only
 * under the lease epoch in which its activation began, so a node cannot be
 * fenced by one round and serve through a lease it regained afterwards.
 *
 * Queries made in the same tick go out as one message per peer, so
 * activating many names costs a few messages, not one per name.
 */
import type { Address, Clock, Timer, Transport } from "../types.ts";
import type { LeasePeer } from "./lease.ts";
import { ACT_FREE, type QueryMsg, type QueryReplyMsg } from "./messages.ts";

/** true: free to start; false: someone has it, disagrees, or could not be ruled out: retry later. */
export type Verdict = (free: boolean) => void;

interface Round {
  names: string[];
  done: Verdict[];
  /** peer name -> address, every voter but self */
  asked: Map<string, Address>;
  /** peer name -> whom it vouched for */
  answered: Map<string, string[]>;
  worst: Uint8Array;
  timer: Timer;
}

export interface ActivationQueries {
  ask(name: string, done: Verdict): void;
  onReply(from: Address, msg: QueryReplyMsg): void;
  /** Liveness changed: a round may be complete now. */
  peersChanged(): void;
  stop(): void;
  readonly rounds: number;
}

export function createActivationQueries(opts: {
  transport: Transport;
  clock: Clock;
  /** Every member that has not left, self excluded. */
  voters(): LeasePeer[];
  isLive(name: string): boolean;
  nameOf(address: Address): string | undefined;
  /** Whether this node vouched for `name` lately. */
  selfVouches(name: string): boolean;
  timeoutMs: number;
}): ActivationQueries {
  const { transport, clock } = opts;
  const open = new Map<number, Round>();
  let nextQ = 1;
  let batchNames: string[] = [];
  let batchDone: Verdict[] = [];
  let scheduled = false;
  let stopped = false;
  let roundsSent = 0;

  function finish(q: number, r: Round, free: boolean): void {
    open.delete(q);
    r.timer.cancel();
    for (let i = 0; i < r.names.length; i++) r.done[i]!(free && r.worst[i] === ACT_FREE);
  }

  /** Whether a majority of voters other than `peer` did not vouch for it. */
  function fenced(r: Round, peer: string): boolean {
    const quorum = Math.floor((r.asked.size + 1) / 2) + 1;
    let clear = opts.selfVouches(peer) ? 0 : 1;
    for (const [n, vouched] of r.answered) if (n !== peer && !vouched.includes(peer)) clear++;
    return clear >= quorum;
  }

  function tryFinish(q: number, r: Round): void {
    for (const n of r.asked.keys()) if (!r.answered.has(n) && opts.isLive(n)) return;
    for (const n of r.asked.keys()) {
      if (!r.answered.has(n) && !fenced(r, n)) return finish(q, r, false);
    }
    finish(q, r, true);
  }

  function flush(): void {
    scheduled = false;
    if (stopped || batchNames.length === 0) return;
    const names = batchNames;
    const done = batchDone;
    batchNames = [];
    batchDone = [];
    const voters = opts.voters();
    if (voters.length === 0) {
      for (const d of done) d(true);
      return;
    }
    const q = nextQ++;
    roundsSent++;
    const r: Round = {
      names,
      done,
      asked: new Map(voters.map((p) => [p.name, p.address])),
      answered: new Map(),
      worst: new Uint8Array(names.length),
      timer: clock.setTimer(opts.timeoutMs, () => {
        if (open.get(q) === r) finish(q, r, false);
      }),
    };
    open.set(q, r);
    const msg: QueryMsg = { t: "aq", q, n: names };
    for (const p of voters) transport.send(p.address, msg);
    // With every peer fenced and none live, the round is decided already.
    tryFinish(q, r);
  }

  return {
    ask(name: string, done: Verdict): void {
      batchNames.push(name);
      batchDone.push(done);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    onReply(from: Address, msg: QueryReplyMsg): void {
      const r = open.get(msg.q);
      const peer = opts.nameOf(from);
      if (r === undefined || peer === undefined || !r.asked.has(peer) || r.answered.has(peer)) return;
      if (msg.r.length !== r.names.length) return;
      for (let i = 0; i < msg.r.length; i++) if (msg.r[i]! > r.worst[i]!) r.worst[i] = msg.r[i]!;
      r.answered.set(peer, msg.v);
      tryFinish(msg.q, r);
    },
    peersChanged(): void {
      for (const [q, r] of [...open]) tryFinish(q, r);
    },
    stop(): void {
      stopped = true;
      for (const [q, r] of [...open]) finish(q, r, false);
    },
    get rounds(): number {
      return roundsSent;
    },
  };
}
