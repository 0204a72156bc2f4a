/**
 * The ceiling for the HTTP benchmark in tests/bench/ship.bench.ts: a bare
 * Bun.serve answering every request with a fixed body. Prints its URL.
 */
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response('{"ok":true}', { headers: { "content-type": "application/json" } }) });
console.log(`ready http://127.0.0.1:${server.port}`);
process.on("SIGTERM", () => {
  void server.stop(true);
  process.exit(0);
});
