/**
 * The bare floor of the scale bench's CPU comparison: cpu-floor-node.ts
 * processes (one alone, or 3 as a cluster), run by the same Bun as the bench,
 * shaped like ScaleNode for its CPU rounds (a pid from /proc, an HTTP URL,
 * /metrics with the frames and socket writes sent).
 */
import { join } from "node:path";
import { RoomyChild } from "../support/procs.ts";

const SCRIPT = join(import.meta.dir, "cpu-floor-node.ts");

export class FloorNode {
  child: RoomyChild | null = null;
  constructor(readonly name: string, readonly httpPort: number) {}
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get pid(): number {
    if (this.child === null) throw new Error(`${this.name} was never started`);
    return this.child.pid;
  }
  async metrics(): Promise<string> {
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(60_000) });
    return res.text();
  }
}

/** `size` floor nodes: HTTP on basePort.., mesh (when size 3) on basePort+size.. */
export class FloorCluster {
  readonly nodes: FloorNode[];
  constructor(readonly size: 1 | 3, readonly basePort: number, readonly mode: "" | "piggyback" | "forward" | "batched" = "") {
    this.nodes = Array.from({ length: size }, (_, i) => new FloorNode(`floor-${size}${mode}-${i + 1}`, basePort + i));
  }
  async start(): Promise<FloorNode[]> {
    const mesh = this.size === 1 ? [] : [this.nodes.map((_, i) => this.basePort + this.size + i).join(","), this.mode];
    await Promise.all(this.nodes.map(async (n, i) => {
      n.child = new RoomyChild([process.execPath, SCRIPT, String(i), String(n.httpPort), ...mesh]);
      await n.child.line(/floor ready/, 30_000, `${n.name} ready`);
    }));
    return this.nodes;
  }
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.child?.kill()));
  }
}
