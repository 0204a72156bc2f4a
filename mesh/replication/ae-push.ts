/**
 * The initiator's streams to the responder: the prints of its entries in the
 * leaves both sides fill (startPrints), and the push back that ends a round,
 * its entries of the differing leaves that the responder lacked or held older.
 */
import { compareTs } from "../../core/crdt/hlc.ts";
import { type DeltaEntry, MINE, PRINTED, THEIRS } from "../../core/crdt/lww-map.ts";
import type { AeHost, Round } from "./ae-types.ts";
import { chunkMsg, printsMsg } from "./messages.ts";
import { leafSource, OutStream, STREAM_WINDOW } from "./stream.ts";

/** Leaves where the responder held nothing beyond which the push back leaves them to its own pull. */
const MAX_BARE_PUSH = 1024;

/**
 * Stream the responder our entries of the differing leaves that it lacks or
 * holds older. A tombstone it lacks at or below its horizon is one it
 * collected, which it did only once every member held it: we forget it too
 * (else our digests would differ for good and our own proof would never come).
 */
export function startPush(h: AeHost, round: Round, want: Uint8Array, sent: (n: number) => void, done: () => void): OutStream {
  const received = round.received;
  const horizon = round.horizon;
  const unmatched = round.unmatched;
  const collectedThere: string[] = [];
  const pick = (e: DeltaEntry, print: number): DeltaEntry | undefined => {
    // In a leaf both fill, a print it matched is an entry it holds as we do.
    if (print !== -1 && unmatched !== null && !unmatched.has(print)) return undefined;
    const ts = received?.get(e.k);
    if (ts !== undefined && compareTs(e.ts, ts) <= 0) return undefined;
    if (ts === undefined && e.d === true && horizon !== null && compareTs(e.ts, horizon) <= 0) {
      collectedThere.push(e.k);
      return undefined;
    }
    return e;
  };
  // Only leaves where we held entries when we compared: what has come into
  // the others since came from the responder (or goes by the outboxes).
  // Leaves it holds nothing of, in bulk, mean a node that is joining or
  // restarted: it pulls for itself (urgent rounds when a link opens or a
  // member comes up, catch-up), and a push as well would send it all twice.
  let bare = 0;
  for (let k = 0; k < want.length; k++) if ((want[k]! & (MINE | THEIRS)) === MINE) bare++;
  const skipBare = bare > MAX_BARE_PUSH;
  // Where both hold entries it matched under half of our prints (or too few to list): it
  // lacks most of what we hold, as a node does that is being sent the whole map room by
  // room (snapshot-order.ts: a few keys of every leaf at a time). It pulls for itself; a
  // push would be a second copy of that transfer.
  const printsSent = round.prints?.sentEntries ?? 0;
  const skipBoth = printsSent > 0 && (unmatched === null || unmatched.size * 2 > printsSent);
  for (let k = 0; k < want.length; k++) {
    const f = want[k]!;
    if ((f & MINE) === 0) want[k] = 0;
    else if ((f & THEIRS) !== 0) want[k] = skipBoth ? 0 : 1 | PRINTED;
    else want[k] = skipBare ? 0 : 1;
  }
  return new OutStream(h, leafSource(h.map, want, pick), {
    to: round.peer.address,
    chunk: round.chunk,
    window: STREAM_WINDOW,
    retransmitMs: h.config.retransmitMs,
    idleMs: h.config.roundTimeoutMs,
    quiet: true,
    make: (c, last, e) => {
      sent(e.length);
      return chunkMsg("ap", h.self, round.r, c, last, { e }, null);
    },
    done: () => {
      done();
      if (collectedThere.length > 0) h.forget(collectedThere.splice(0));
    },
  });
}

/** Stream the responder the prints of our entries in the leaves both sides fill (`printed`). */
export function startPrints(h: AeHost, round: Round, printed: Uint8Array): OutStream<number> {
  return new OutStream<number>(h, leafSource<number>(h.map, printed, (_e, p) => p), {
    to: round.peer.address,
    chunk: round.chunk * 8,
    window: STREAM_WINDOW,
    retransmitMs: h.config.retransmitMs,
    idleMs: h.config.roundTimeoutMs,
    make: (c, last, prints) => printsMsg(h.self, round.r, c, last, prints),
    done: () => {},
  });
}
