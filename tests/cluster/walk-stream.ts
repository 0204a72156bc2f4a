/**
 * A stream of walk-into writes for the fault tests: one sequential worker per
 * person, each walk to the next room through the next node (round robin, no
 * randomness), every answer recorded. From the record, `allowedRooms` says
 * where a person may be now without an acknowledged write having been lost:
 * the room of their last acknowledged walk, or of any later walk whose
 * outcome is unknown (an error or no answer may still have been applied).
 */
import { RoomyError } from "../../core/errors.ts";
import type { RoomyProcess } from "../support/cluster.ts";

const PACE_MS = 5;

export interface Walk {
  room: string;
  node: string;
  /** "ok", an error code, or "no-answer". */
  outcome: string;
}

export class WalkStream {
  readonly history = new Map<string, Walk[]>();
  private stopping = false;
  private workers: Promise<void>[] = [];

  /** `nodes()` is read before every walk, so nodes can be swapped (restarts). */
  constructor(
    readonly people: string[],
    readonly rooms: string[],
    private readonly nodes: () => RoomyProcess[],
  ) {
    for (const p of people) this.history.set(p, []);
  }

  start(): void {
    this.workers = this.people.map((p, i) => this.work(p, i));
  }

  /** Stops after each worker's walk in flight; resolves once all have. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  private async work(person: string, i: number): Promise<void> {
    const log = this.history.get(person)!;
    for (let j = 0; !this.stopping && j < 100_000; j++) {
      const nodes = this.nodes();
      const node = nodes[(i + j) % nodes.length]!;
      const room = this.rooms[(i + j) % this.rooms.length]!;
      let outcome = "ok";
      try {
        await node.client.walkInto(room, [person]);
      } catch (err) {
        outcome = err instanceof RoomyError ? err.code : "no-answer";
      }
      log.push({ room, node: node.name, outcome });
      // Paced, so the stream leaves the (shared, 2-core) machine some room;
      // longer after a failure, since a dead node answers at once (refused).
      await new Promise((r) => setTimeout(r, outcome === "ok" ? PACE_MS : 20));
    }
  }

  /** Walks answered ok. */
  acked(): number {
    let n = 0;
    for (const log of this.history.values()) n += log.filter((w) => w.outcome === "ok").length;
    return n;
  }

  /** Walks that did not answer ok, by outcome. */
  failures(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const log of this.history.values()) for (const w of log) if (w.outcome !== "ok") out[w.outcome] = (out[w.outcome] ?? 0) + 1;
    return out;
  }

  /** Rooms `person` may be in now, or null if no walk of theirs was acknowledged (anything sent, or none). */
  allowedRooms(person: string): Set<string> | null {
    const log = this.history.get(person) ?? [];
    let last = -1;
    for (let j = 0; j < log.length; j++) if (log[j]!.outcome === "ok") last = j;
    if (last < 0) return null;
    return new Set(log.slice(last).map((w) => w.room));
  }

  /**
   * Lost acknowledged writes in a dump: people not in a room their history
   * allows (each listed as "person: in X, allowed Y"), plus anyone listed twice.
   */
  lostIn(dump: Record<string, string[]>): string[] {
    const where = new Map<string, string>();
    const problems: string[] = [];
    for (const [room, people] of Object.entries(dump)) {
      for (const p of people) {
        if (where.has(p)) problems.push(`${p}: in both ${where.get(p)} and ${room}`);
        where.set(p, room);
      }
    }
    for (const p of this.people) {
      const allowed = this.allowedRooms(p);
      if (allowed === null) continue;
      const at = where.get(p);
      if (at === undefined || !allowed.has(at)) problems.push(`${p}: in ${at ?? "no room"}, allowed ${[...allowed].join("|")}`);
    }
    return problems;
  }
}
