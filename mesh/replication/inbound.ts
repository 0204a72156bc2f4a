/**
 * A replication message off the wire, checked and handed to what handles
 * it: the barriers (barriers.ts), a write batch to the inbox (merged over
 * turns), an ack or refusal (answers.ts), the rest to anti-entropy.
 */
import type { Address, Logger, Message } from "../types.ts";
import type { AntiEntropy } from "./anti-entropy.ts";
import { type AnswerHost, onAnswer } from "./answers.ts";
import type { Barriers } from "./barriers.ts";
import type { DataInbox } from "./data-inbox.ts";
import { parseMessage, type ReplMsg, type Sender } from "./messages.ts";
import { rangeCount } from "./seq-ranges.ts";
import type { MessageCounts } from "./stats.ts";

export interface InboundHost {
  stopped(): boolean;
  readonly n: MessageCounts;
  readonly buckets: number;
  readonly self: Sender;
  readonly logger: Logger;
  readonly barriers: Barriers;
  readonly inbox: DataInbox;
  readonly answers: AnswerHost;
  readonly ae: AntiEntropy;
}

export function receive(h: InboundHost, from: Address, msg: Message): void {
  if (h.stopped()) return;
  h.n.received++;
  if (h.barriers.receive(from, msg)) return;
  let m: ReplMsg;
  try {
    m = parseMessage(msg, h.buckets);
  } catch (err) {
    h.n.malformed++;
    h.logger.warn("replication: dropped a malformed message", { from, t: String(msg?.t), error: String(err) });
    return;
  }
  if (m.n === h.self.n && m.i === h.self.i) return;
  try {
    if (m.t === "d") {
      h.n.deltasReceived += rangeCount(m.s);
      h.inbox.push(from, m); // merged over turns, in order; acked once whole, or refused (data-inbox.ts)
    } else if (m.t === "a") onAnswer(h.answers, m, -1);
    else if (m.t === "fx") onAnswer(h.answers, m, m.e);
    else h.ae.handle(from, m);
  } catch (err) {
    h.logger.error("replication: failed to handle a message", { from, t: m.t, error: String(err) });
  }
}
