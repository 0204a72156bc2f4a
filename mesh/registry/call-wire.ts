/**
 * How a call and its answer travel: a call goes on the wire to the node that
 * should run it (with what is left of its caller's wait, and its origin's
 * deadline); an answer goes back to the origin, or to the local waiter
 * (which may not be registered yet: an answer in the same turn is kept on
 * the call until its caller picks it up).
 */
import type { Address, Clock, Logger, Transport } from "../types.ts";
import type { CallTable } from "./calls.ts";
import { EARLY_FAILED, EARLY_OK, EARLY_WAITING } from "./process-record.ts";
import { HandlerRefusal, RoomyError } from "../../core/errors.ts";
import { asRoomyError, type CallMsg, type CallTuple, errorToWire, type MovedMsg, type ReplyMsg, unavailable } from "./messages.ts";
import type { Owners } from "./owners.ts";
import type { Inbound } from "./processes.ts";

export interface CallWireDeps {
  local: Address;
  transport: Transport;
  calls: CallTable;
  owners: Owners;
  clock: Clock;
  logger: Logger;
  /** A call leaves its origin for another node (counted once, not per forward). */
  counted: () => void;
  /** This node's clock reading, sent with every call (callVouched in registry.ts). */
  reading?: () => [number, number, string];
}

export interface CallWire {
  respond(inb: Inbound, value: unknown): void;
  /**
   * Answer `inb` with an error. `refused`: the call did not and will not run
   * anywhere (it is answered here, before any handler), so the caller may
   * retry it without fear of applying it twice (RoomyError.noEffect). Any
   * other error, a handler's included, goes without that mark, even one a
   * handler passed on from a call of its own: that handler did run.
   */
  fail(inb: Inbound, err: unknown, refused?: boolean): void;
  /** Put `inb` on the wire to node `to` (hop accounting done by the process table). */
  send(inb: Inbound, to: string, now?: number): void;
  /** Tell node `to`, where this node's call `id` went, that its client left (stalled-calls.ts). */
  cancel(id: number, to: string): void;
}

export function createCallWire(d: CallWireDeps): CallWire {
  const { local, transport, calls, owners, clock, logger } = d;

  function respond(inb: Inbound, value: unknown): void {
    if (!inb.reply) return;
    if (inb.origin === local) {
      if (inb.early !== EARLY_WAITING) return calls.resolve(inb.id, value);
      inb.early = EARLY_OK;
      inb.answer = value;
      return;
    }
    const msg: ReplyMsg = { t: "r", id: inb.id, v: value };
    transport.send(inb.origin, msg);
  }

  function fail(inb: Inbound, cause: unknown, refused = false): void {
    const err = marked(cause, refused);
    if (!inb.reply) {
      logger.debug("cast not delivered", { process: inb.name, error: String(err) });
      return;
    }
    if (inb.origin === local) {
      if (inb.early !== EARLY_WAITING) return calls.reject(inb.id, asRoomyError(err));
      inb.early = EARLY_FAILED;
      inb.answer = asRoomyError(err);
      return;
    }
    const msg: ReplyMsg = { t: "r", id: inb.id, e: errorToWire(err) };
    transport.send(inb.origin, msg);
  }

  function send(inb: Inbound, to: string, now: number = clock.now()): void {
    const addr = owners.addressOf(to);
    const ttl = inb.deadline - now;
    if (addr === undefined) return fail(inb, unavailable(`no address for node ${to}; retry`), true);
    if (ttl <= 0) return fail(inb, unavailable(`${inb.name}: the caller gave up`));
    if (inb.hops === 0) d.counted();
    if (inb.origin === local && inb.reply) {
      if (inb.early === EARLY_WAITING) inb.sentTo = to; // its pending entry is made after route() returns
      else calls.sentTo(inb.id, to);
    }
    const a: CallTuple = [inb.id, inb.name, inb.msg, inb.hops, ttl, inb.expires];
    const msg: CallMsg = { t: inb.reply ? "c" : "s", a };
    // The first hop's sender is the origin; a forward names it (and its process, if known).
    const forward = inb.origin !== local;
    if (forward) {
      a.push(inb.origin);
      if (inb.originId !== undefined) msg.i = inb.originId;
    }
    if (d.reading !== undefined) msg.k = d.reading();
    // Dropped before it was written (the link died, or its dial was refused:
    // a node killed a moment ago): it never left, so fail it now, with no
    // effect, rather than at the call timeout (a no-op once answered).
    const lost = (): void => {
      // This node's own call: only while it is still pending there (not answered, timed out or moved).
      if (inb.origin === local && inb.reply && inb.early !== EARLY_WAITING && calls.sentToOf(inb.id) !== to) return;
      fail(inb, unavailable(`node ${to} is unreachable; retry`), true);
    };
    if (!transport.send(addr, msg, lost)) return lost();
    // Sent on for a caller elsewhere: tell it where its call went (calls.ts moved).
    if (forward && inb.reply) transport.send(inb.origin, { t: "mv", id: inb.id, to, h: inb.hops } satisfies MovedMsg);
  }

  function cancel(id: number, to: string): void {
    const addr = owners.addressOf(to);
    if (addr !== undefined) transport.send(addr, { t: "x", id });
  }

  return { respond, fail, send, cancel };
}

/** `err` with RoomyError.noEffect set to `refused` (a copy when it differs); a handler's own refusal keeps its mark. */
function marked(err: unknown, refused: boolean): unknown {
  if (err instanceof HandlerRefusal) return err;
  if (!(err instanceof RoomyError)) return refused ? new RoomyError("internal", String(err), true) : err;
  return err.noEffect === refused ? err : new RoomyError(err.code, err.message, refused);
}
