/**
 * The clients of a simulated run: each op goes to a random ready node (as a
 * load balancer behind /readyz would send it) and is retried on
 * `unavailable` or a reset connection, with backoff, until its deadline, as
 * the CLI does. Every attempt is recorded in the history.
 */
import type { AppSim, AppSimNode } from "../../mesh/sim/app-harness.ts";
import type { SeededRandom } from "../../mesh/sim/random.ts";
import type { History, Op } from "./history.ts";

interface Attempt {
  op: Op;
  node: string;
  generation: number;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class Clients {
  /** Attempts sent and not answered. */
  readonly open = new Set<Attempt>();

  constructor(
    private readonly sim: AppSim,
    private readonly history: History,
    private readonly rnd: SeededRandom,
    /** Called once per op that settles (ok or not). */
    private readonly onSettled: (op: Op) => void,
    /** Which ready node an attempt goes to (default: any, at random). */
    private readonly choose?: (ready: AppSimNode[], op: Op) => AppSimNode | undefined,
  ) {}

  now(): number {
    return this.sim.clock.now() - this.sim.startedAt;
  }

  isAlive(node: string, generation: number): boolean {
    const s = this.sim.slot(node);
    return s.up && s.generation === generation;
  }

  send(op: Op): void {
    const ready = this.sim.ready();
    const s = this.choose !== undefined ? this.choose(ready, op) : ready[this.rnd.int(ready.length)];
    if (s === undefined) return this.retryLater(op);
    const app = s.node!.app;
    this.history.attempt(op, s.name, s.generation, this.now());
    let p: Promise<unknown>;
    switch (op.kind) {
      case "walk":
        p = app.walkInto(op.target, op.keys);
        break;
      case "leave":
        p = app.leave(op.keys);
        break;
      case "park":
        p = app.park(op.target, op.keys[0]!);
        break;
      case "unpark":
        p = app.unpark(op.target, op.keys[0]!);
        break;
      case "dump":
        p = app.dump();
        break;
      case "who":
        p = app.whoIsIn(op.target);
        break;
    }
    const a: Attempt = { op, node: s.name, generation: s.generation };
    this.open.add(a);
    const finish = (outcome: Outcome): void => {
      if (!this.open.delete(a)) return;
      if (!this.isAlive(a.node, a.generation)) return; // its crash was handled in reset()
      this.done(op, outcome);
    };
    p.then(
      (value) => finish({ ok: true, value }),
      (error: unknown) => finish({ ok: false, error }),
    );
  }

  /** A node died: its clients saw their connections reset and try elsewhere. */
  reset(node: string, generation: number): void {
    for (const a of [...this.open]) {
      if (a.node !== node || a.generation !== generation) continue;
      this.open.delete(a);
      this.done(a.op, null);
    }
  }

  /** Attempts on live nodes that never answered. */
  hung(): Op[] {
    return [...this.open].filter((a) => this.isAlive(a.node, a.generation)).map((a) => a.op);
  }

  private done(op: Op, outcome: Outcome | null): void {
    if (this.history.attemptDone(op, outcome, this.now()) === "retry") return this.retryLater(op);
    this.onSettled(op);
  }

  private retryLater(op: Op): void {
    const wait = 100 + this.rnd.int(300);
    if (this.now() + wait > op.deadline) {
      this.history.giveUp(op, this.now());
      this.onSettled(op);
      return;
    }
    this.sim.clock.setTimer(wait, () => this.send(op));
  }
}
