/**
 * For tests/bench/ship.bench.ts: the same walk-into as `roomy node` (a node
 * on the TCP mesh, cluster of one) behind a bare Bun.serve handler, without
 * the admin API's router, body checks, metrics or JSON writer. It tells the
 * HTTP layer's share of a walk-into from the node's. With "local" as the
 * second argument the node is the in-process cluster of one instead (the
 * same registry and replicator over a transport that reaches nobody, no
 * TCP): that tells the TCP mesh's share. Prints its URL.
 */
import { meshCluster } from "../../mesh/node/tcp-parts.ts";
import { startNode } from "../../mesh/node/node.ts";

const local = process.argv[3] === "local";
const node = await startNode({ name: "bare", bind: "127.0.0.1:0", cluster: local ? undefined : meshCluster() });
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const b = JSON.parse(await req.text()) as { room: string; people: string[] };
    await node.app.walkInto(b.room, b.people);
    return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
  },
});
await node.app.addRooms(Array.from({ length: Number(process.argv[2] ?? 16) }, (_, i) => `r${i}`));
console.log(`ready http://127.0.0.1:${server.port}`);
process.on("SIGTERM", () => {
  void server.stop(true);
  void node.stop().finally(() => process.exit(0));
});
