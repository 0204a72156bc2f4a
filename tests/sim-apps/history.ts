/**
 * The history of client operations in a simulated run (each op one client
 * request, retried on `unavailable` until its deadline), and the model that
 * judges the final state against it: "no acknowledged write lost unless a
 * later write replaced it", as a linearizability check of one register per
 * key (a person's room, a plate's presence) with a final read.
 *
 * Each write op has a window in which it takes effect (its linearization
 * point): from its invocation to its acknowledgement when acknowledged (or,
 * if an earlier attempt's outcome was unknown, to the latest time that
 * attempt's write can carry, when that is later: README, "An
 * unacknowledged write may still take effect later"); when
 * its outcome is unknown (timed out, `unavailable`, its node crashed) from
 * its first invocation to the latest time any attempt's write can carry
 * (the last attempt plus one call timeout per hop: gate -> lot is two; a
 * leave is stamped when it is made). That bound relies on two facts of the
 * product and the simulator: a registry call never runs after its caller's
 * deadline (processes.ts checks it before running), and every node's clock
 * is the world clock, so a write's HLC timestamp is the virtual time it was
 * made. Ops refused with a definite error (room_full, lot_full, not_parked,
 * unknown_room) took no effect and are left out, unless an earlier attempt
 * of theirs may have applied (then they count as unknown).
 *
 * The final value V of a key is valid iff some op with value V could be the
 * last: its window ends no earlier than the invocation of the latest
 * acknowledged op (or, with no acknowledged op at all, V is the initial value).
 */
import { RoomyError } from "../../core/errors.ts";

export type OpKind = "walk" | "leave" | "park" | "unpark" | "dump" | "who";

export interface Op {
  id: number;
  kind: OpKind;
  /** node and process generation of the latest attempt */
  node: string;
  generation: number;
  /** walk: the room; park/unpark: the gate; who: the room */
  target: string;
  /** people (walk, leave) or one plate (park, unpark) */
  keys: string[];
  invokedAt: number;
  /** the client retries until then */
  deadline: number;
  /** invocation of the latest attempt (the client retries `unavailable`) */
  lastAttemptAt: number;
  attempts: number;
  /** an earlier attempt may have taken effect (it timed out, or its node died) */
  uncertain: boolean;
  /** the latest time such an attempt's write can carry (-Infinity: none) */
  uncertainUntil: number;
  settledAt: number | null;
  status: "pending" | "ok" | "refused" | "unknown";
  code: string | null;
  result: unknown;
}

/** Definite refusals: the op wrote nothing. */
const REFUSALS = new Set(["room_full", "lot_full", "not_parked", "unknown_room", "unknown_gate", "invalid_name", "bad_request"]);

/** How many call timeouts after its invocation an op's write may still be made (gate -> lot is two calls). */
const CALL_DEPTH: Record<OpKind, number> = { walk: 1, leave: 0, park: 2, unpark: 2, dump: 0, who: 0 };

export class History {
  readonly ops: Op[] = [];
  /** The last judge() result. */
  judgement: Judgement | null = null;

  constructor(private readonly callTimeoutMs: number) {}

  begin(kind: OpKind, target: string, keys: string[], now: number, deadlineMs: number): Op {
    const op: Op = {
      id: this.ops.length,
      kind,
      node: "",
      generation: -1,
      target,
      keys,
      invokedAt: now,
      deadline: now + deadlineMs,
      lastAttemptAt: now,
      attempts: 0,
      uncertain: false,
      uncertainUntil: -Infinity,
      settledAt: null,
      status: "pending",
      code: null,
      result: undefined,
    };
    this.ops.push(op);
    return op;
  }

  /** An attempt starts on `node`. */
  attempt(op: Op, node: string, generation: number, now: number): void {
    op.node = node;
    op.generation = generation;
    op.attempts++;
    op.lastAttemptAt = now;
  }

  /**
   * An attempt answered (or its node died: `outcome` null). Returns "retry"
   * when the client should try again (`unavailable`, a dead node), else the
   * op is settled.
   */
  attemptDone(op: Op, outcome: { ok: true; value: unknown } | { ok: false; error: unknown } | null, now: number): "retry" | "done" {
    if (op.status !== "pending") return "done";
    if (outcome === null) {
      this.markUncertain(op);
      op.code = "crashed";
      return "retry";
    }
    if (outcome.ok) {
      op.status = "ok";
      op.code = null;
      op.result = outcome.value;
      op.settledAt = now;
      return "done";
    }
    const code = outcome.error instanceof RoomyError ? outcome.error.code : "thrown";
    op.code = code;
    op.result = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    if (REFUSALS.has(code)) {
      // After an attempt that may have applied, a refusal proves nothing (unpark: not_parked).
      op.status = op.uncertain ? "unknown" : "refused";
      op.settledAt = now;
      return "done";
    }
    this.markUncertain(op);
    return "retry";
  }

  /** The attempt under way may have taken effect, as late as its calls may still run. */
  private markUncertain(op: Op): void {
    op.uncertain = true;
    op.uncertainUntil = Math.max(op.uncertainUntil, op.lastAttemptAt + CALL_DEPTH[op.kind] * this.callTimeoutMs + 50);
  }

  /** The client's deadline passed: the outcome stays unknown. */
  giveUp(op: Op, now: number): void {
    if (op.status !== "pending") return;
    op.status = "unknown";
    op.settledAt = now;
  }

  /**
   * Until when some op on `key` (a person or plate name) may still take
   * effect: Infinity while one is pending.
   */
  openUntil(key: string): number {
    let until = -Infinity;
    for (const op of this.ops) {
      if (!op.keys.includes(key) || op.status === "refused") continue;
      until = Math.max(until, op.status === "pending" ? Infinity : this.windowEnd(op));
    }
    return until;
  }

  /** The latest virtual time op's write can carry. */
  windowEnd(op: Op): number {
    if (op.status === "ok") return Math.max(op.settledAt!, op.uncertainUntil);
    return op.lastAttemptAt + CALL_DEPTH[op.kind] * this.callTimeoutMs + 50;
  }

  /**
   * Judge final values. `valueOf(kind, key)` reads the converged state:
   * a person's room (or null), a plate's presence ("parked" or null).
   */
  judge(finalPerson: (p: string) => string | null, finalPlate: (x: string) => boolean): Judgement {
    const writes = new Map<string, { value: string | null; invokedAt: number; end: number; acked: boolean; op: number }[]>();
    const add = (key: string, value: string | null, op: Op): void => {
      let l = writes.get(key);
      if (l === undefined) writes.set(key, (l = []));
      l.push({ value, invokedAt: op.invokedAt, end: this.windowEnd(op), acked: op.status === "ok", op: op.id });
    };
    for (const op of this.ops) {
      if (op.status === "refused") continue;
      if (op.status === "pending") continue; // reported separately (hung calls)
      for (const k of op.keys) {
        switch (op.kind) {
          case "walk":
            add(`person/${k}`, op.target, op);
            break;
          case "leave":
            add(`person/${k}`, null, op);
            break;
          case "park":
            add(`vehicle/${k}`, "parked", op);
            break;
          case "unpark":
            add(`vehicle/${k}`, null, op);
            break;
          default:
            break;
        }
      }
    }
    const out: Judgement = { keys: 0, determined: 0, violations: [] };
    for (const [key, ws] of writes) {
      out.keys++;
      const acked = ws.filter((w) => w.acked);
      const lastAckedInvoke = acked.reduce((m, w) => Math.max(m, w.invokedAt), -Infinity);
      const candidates = ws.filter((w) => w.end + 1 >= lastAckedInvoke);
      const allowed = new Set<string | null>(candidates.map((w) => w.value));
      if (acked.length === 0) allowed.add(null);
      if (allowed.size === 1) out.determined++;
      const name = key.slice(key.indexOf("/") + 1);
      const actual = key.startsWith("person/") ? finalPerson(name) : finalPlate(name) ? "parked" : null;
      if (!allowed.has(actual)) {
        const ops = ws.map((w) => "\n    " + this.show(w.op)).join("");
        out.violations.push(`${key}: final ${JSON.stringify(actual)}, allowed ${JSON.stringify([...allowed])}; its ops:${ops}`);
      }
    }
    return out;
  }

  /** One op, for failure messages. */
  show(id: number): string {
    const op = this.ops[id]!;
    const tries = op.attempts > 1 ? ` x${op.attempts} (last at ${op.lastAttemptAt.toFixed(1)})` : "";
    return `op ${id} ${op.kind}(${op.target} ${op.keys.join(",")}) on ${op.node}#${op.generation} [${op.invokedAt.toFixed(1)}..${op.settledAt?.toFixed(1) ?? "-"}]${tries} ${op.status}${op.code === null ? "" : " " + op.code}`;
  }

  counts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const op of this.ops) c[op.status] = (c[op.status] ?? 0) + 1;
    return c;
  }

  /** Outcomes by kind and code, e.g. "walk unavailable" -> 12. */
  codes(detail = false): Record<string, number> {
    const c: Record<string, number> = {};
    for (const op of this.ops) {
      let k = `${op.kind} ${op.code ?? op.status}`;
      if (detail && op.status !== "ok" && op.status !== "refused") k += ` ${String(op.result).replace(/[0-9a-f]{8,}|\d+/g, "#")}`;
      c[k] = (c[k] ?? 0) + 1;
    }
    return c;
  }
}

export interface Judgement {
  /** keys written at least once */
  keys: number;
  /** keys whose final value the history allowed only one way (the strong cases) */
  determined: number;
  violations: string[];
}
