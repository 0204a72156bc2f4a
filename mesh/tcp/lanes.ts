/**
 * The mesh as two lanes to each peer: the data lane (replication, process
 * calls, catch-up: anything that can pile up) and the control lane
 * (membership probes, consensus), each its own TCP connection with its own
 * queue, so a probe or a heartbeat never waits behind megabytes of data on
 * their way to or from a node that stalled and is catching up (a 3 s
 * SIGSTOP under load made live nodes declare each other dead, over and
 * over, while their acks sat behind the backlog). Akka's Artery keeps a
 * control stream apart from ordinary messages for the same reason;
 * memberlist probes over UDP.
 *
 * Both lanes listen on the data lane's port: a connection's hello names the
 * lane it was dialed for, and the data lane hands it over (TcpMesh.adopt).
 * A control message goes on the control lane only to a peer whose open data
 * connection said it takes one (its hello's `lanes`), so an older node keeps
 * getting everything on its one connection. A message may switch lanes
 * between two sends (the data connection came up meanwhile): the channels
 * given to the control lane tolerate reordering, as they tolerate loss.
 */
import type { Address, Logger, Message } from "../types.ts";
import { silentLogger } from "../types.ts";
import { TcpMesh } from "./transport.ts";
import { limitedWarnings } from "./log-limit.ts";
import { realClock } from "../../adapter/clock.ts";
import type { PeerChange, PeerInfo, TcpTransport, TcpTransportOptions, TcpTransportStats } from "./types.ts";

export type { PeerChange, PeerInfo, TcpTlsOptions, TcpTransport, TcpTransportOptions, TcpTransportStats } from "./types.ts";

/** What a connection that fails its handshake logs: anyone who reaches the mesh port can cause it at will. */
const STRANGERS_WARNINGS = ["mesh: refused peer"];

/** Listen on `opts.bind` and return the transport once it accepts connections. */
export async function createTcpTransport(given: TcpTransportOptions): Promise<TcpTransport> {
  const logger = limitedWarnings(given.logger ?? silentLogger, given.clock ?? realClock, STRANGERS_WARNINGS);
  const opts = { ...given, logger };
  const data = new TcpMesh(opts);
  await data.start();
  if (opts.lanes === false) return data;
  // The control lane's connections come and go with the data lane's: its
  // routine lines go to debug, so each peer is not logged twice.
  const control = new TcpMesh({ ...opts, logger: quieter(logger) }, "control");
  control.configure(data.local);
  data.control = control;
  return laned(data, control, controlRule(opts.controlChannels ?? []));
}

/**
 * Which messages take the control lane: a channel ("swim"), or one message
 * type of a channel ("reg:lp": the registry's lease pings, whose channel
 * also carries calls). Nothing is built per send.
 */
export function controlRule(entries: readonly string[]): (msg: Message) => boolean {
  const channels = new Set<string>();
  const types = new Map<string, Set<unknown>>();
  for (const e of entries) {
    const at = e.indexOf(":");
    if (at < 0) channels.add(e);
    else {
      const ch = e.slice(0, at);
      if (!types.has(ch)) types.set(ch, new Set());
      types.get(ch)!.add(e.slice(at + 1));
    }
  }
  return (msg) => {
    const ch = msg["ch"];
    if (typeof ch !== "string") return false;
    return channels.has(ch) || types.get(ch)?.has(msg["t"]) === true;
  };
}

function laned(data: TcpMesh, control: TcpMesh, controlled: (msg: Message) => boolean): TcpTransport {
  const both = [data, control];
  let closing: Promise<void> | null = null;
  return {
    local: data.local,
    send(to: Address, msg: Message, onLost?: () => void): boolean {
      // While the control lane's dials fail (a peer that takes one connection only, say), the data lane carries it: late beats never.
      const lane = controlled(msg) && data.speaksLanes(to) && !control.failing(to) ? control : data;
      return lane.send(to, msg, onLost);
    },
    onMessage(handler: (from: Address, msg: Message) => void): void {
      for (const m of both) m.onMessage(handler);
    },
    close(): Promise<void> {
      closing ??= Promise.all(both.map((m) => m.close())).then(() => {});
      return closing;
    },
    peers: (): PeerInfo[] => data.peers(),
    stats(): TcpTransportStats {
      const [a, b] = [data.stats(), control.stats()];
      const sum = {} as TcpTransportStats;
      for (const k of Object.keys(a) as (keyof TcpTransportStats)[]) sum[k] = a[k] + b[k];
      return sum;
    },
    onPeerChange: (fn: (change: PeerChange) => void): (() => void) => data.onPeerChange(fn),
    onUnreachable(fn: (address: string) => void): () => void {
      const offs = both.map((m) => m.onUnreachable(fn));
      return () => offs.forEach((off) => off());
    },
    closePeer(address: string, reason: string): void {
      for (const m of both) m.closePeer(address, reason);
    },
    refusal: (address: string): string | undefined => data.refusal(address),
  };
}

/** `log` with its info lines as debug lines. */
function quieter(log: Logger): Logger {
  return {
    debug: (msg, fields) => log.debug(msg, fields),
    info: (msg, fields) => log.debug(msg, fields),
    warn: (msg, fields) => log.warn(msg, fields),
    error: (msg, fields) => log.error(msg, fields),
  };
}
