/**
 * Outgoing handoffs, made reliable: the state a process gave up is re-sent
 * every `retryMs` until the target acknowledges it. If the target stops being
 * live first, the state goes to whoever owns the name now; if that is this
 * node again, it is given back (`reclaim`) and the process restarts here.
 * State is never dropped while this node runs.
 */
import type { Clock, Random, Timer, Transport } from "../types.ts";
import { randomId } from "../types.ts";
import type { HandoffAckMsg, HandoffMsg } from "./messages.ts";
import type { Owners } from "./owners.ts";

interface Outgoing {
  name: string;
  state: unknown;
  target: string;
  timer: Timer | undefined;
}

export interface HandoffSender {
  /** Hand `state` of `name` to `target` (after `delayMs`, default at once); returns the handoff id. */
  send(name: string, state: unknown, target: string, delayMs?: number): string;
  /** Whether a handoff of `name` is in flight from here. */
  has(name: string): boolean;
  /** Handoffs to `target` not yet acknowledged. */
  inFlightTo(target: string): number;
  onAck(msg: HandoffAckMsg): void;
  /** Re-check targets now (membership changed). */
  recheck(): void;
  /** Handoffs not yet acknowledged. */
  readonly inFlight: number;
  /** Resolves when none is in flight. */
  settled(): Promise<void>;
  stop(): void;
}

export function createHandoffSender(opts: {
  self: string;
  transport: Transport;
  clock: Clock;
  random: Random;
  owners: Owners;
  retryMs: number;
  /** The target took it. */
  acked(hid: string, name: string, target: string): void;
  /** Nobody else can take it now: restart it here with this state. */
  reclaim(hid: string, name: string, state: unknown): void;
}): HandoffSender {
  const { self, transport, clock, owners } = opts;
  const prefix = randomId(opts.random, 6);
  let seq = 0;
  const out = new Map<string, Outgoing>();
  const names = new Map<string, number>();
  let waiters: (() => void)[] = [];
  let stopped = false;

  function done(hid: string): void {
    const o = out.get(hid);
    if (o === undefined) return;
    o.timer?.cancel();
    out.delete(hid);
    const c = names.get(o.name)!;
    if (c <= 1) names.delete(o.name);
    else names.set(o.name, c - 1);
    if (out.size === 0) {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  }

  function attempt(hid: string): void {
    const o = out.get(hid);
    if (o === undefined || stopped) return;
    if (!owners.isLive(o.target)) {
      const next = owners.ownerOf(o.name);
      if (next === undefined || next === self) {
        done(hid);
        opts.reclaim(hid, o.name, o.state);
        return;
      }
      o.target = next;
    }
    const addr = owners.addressOf(o.target);
    if (addr !== undefined) {
      // undefined (start fresh) does not survive every codec: say it with a flag.
      const msg: HandoffMsg = o.state === undefined ? { t: "ho", hid, n: o.name, f: true } : { t: "ho", hid, n: o.name, s: o.state };
      transport.send(addr, msg);
    }
    o.timer = clock.setTimer(opts.retryMs, () => attempt(hid));
  }

  return {
    send(name: string, state: unknown, target: string, delayMs = 0): string {
      const hid = `${prefix}.${(seq++).toString(36)}`;
      const o: Outgoing = { name, state, target, timer: undefined };
      out.set(hid, o);
      names.set(name, (names.get(name) ?? 0) + 1);
      if (delayMs > 0) o.timer = clock.setTimer(delayMs, () => attempt(hid));
      else attempt(hid);
      return hid;
    },
    has: (name) => names.has(name),
    inFlightTo(target: string): number {
      let n = 0;
      for (const o of out.values()) if (o.target === target) n++;
      return n;
    },
    onAck(msg: HandoffAckMsg): void {
      const o = out.get(msg.hid);
      if (o === undefined) return;
      const target = o.target;
      done(msg.hid);
      opts.acked(msg.hid, o.name, target);
    },
    recheck(): void {
      for (const [hid, o] of out) {
        if (!owners.isLive(o.target)) {
          o.timer?.cancel();
          attempt(hid);
        }
      }
    },
    get inFlight(): number {
      return out.size;
    },
    settled(): Promise<void> {
      if (out.size === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    stop(): void {
      stopped = true;
      for (const o of out.values()) o.timer?.cancel();
    },
  };
}
