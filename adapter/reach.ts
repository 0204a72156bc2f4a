/**
 * Whether something accepts a TCP connection at an address, from here: the
 * node's own check of its --advertise (cli/node-command.ts). A plain
 * connect, closed at once, nothing written: the mesh listener sees a
 * connection that ended before its handshake and drops it.
 */
import { dial } from "./sockets.ts";

/** true once connected, false on a refusal, an error or `ms` without either. */
export function accepts(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
      d.stream.destroy();
    };
    const timer = setTimeout(() => finish(false), ms);
    const d = dial(host, port, undefined);
    d.stream.listen({ data: () => {}, end: () => {}, drain: () => {}, error: () => finish(false), close: () => finish(false) });
    d.onReady(() => finish(true));
  });
}
