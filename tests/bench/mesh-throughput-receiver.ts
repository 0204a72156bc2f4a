/**
 * Child process of the mesh throughput benchmark: a transport that counts
 * what it receives and acknowledges progress to the sender.
 * Protocol: {t:"reset", ackEvery} -> {t:"ack", count:0, reset:true};
 * {t:"m"} counted, acked every ackEvery; {t:"end"} -> {t:"ack", count, end:true};
 * {t:"bye"} or stdin closing -> exit.
 */
import { createTcpTransport } from "../../mesh/tcp/lanes.ts";

const t = await createTcpTransport({
  bind: "127.0.0.1:0",
  name: "bench-receiver",
  id: `receiver-${process.pid}-${Date.now()}`,
  cookie: process.env["ROOMY_BENCH_COOKIE"] ?? "bench",
});

let count = 0;
let ackEvery = 1000;
const exit = () => void t.close().then(() => process.exit(0));

t.onMessage((from, msg) => {
  switch (msg.t) {
    case "m":
      if (++count % ackEvery === 0) t.send(from, { t: "ack", count });
      return;
    case "reset":
      count = 0;
      ackEvery = typeof msg["ackEvery"] === "number" ? msg["ackEvery"] : 1000;
      t.send(from, { t: "ack", count, reset: true });
      return;
    case "end":
      t.send(from, { t: "ack", count, end: true });
      return;
    case "bye":
      exit();
  }
});

// The parent going away (stdin closes) ends us too; a watchdog bounds our life regardless.
process.stdin.on("end", exit);
process.stdin.resume();
setTimeout(exit, 120_000).unref();
process.stdout.write(JSON.stringify({ address: t.local }) + "\n");
