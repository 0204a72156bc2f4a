/**
 * `dist/roomy node` processes, one per network namespace of a Topology
 * (tests/support/netns.ts): node i is `n<i>`, its mesh on 10.77.0.<i+1>:4370
 * (joining every other node), its admin API on its control address, port
 * 4380 (ports are per namespace, so nothing collides with other tests).
 * Neither address is loopback, so the nodes get a cookie and an admin token,
 * fresh per cluster, through the environment. Calls are plain fetch with a
 * timeout and no retries: the tests decide what every answer means.
 */
import type { Topology } from "./netns.ts";
import { LISTENING, LogTail, type Reply, request, RoomyChild, until } from "./procs.ts";

export { sleep, until } from "./procs.ts";

export const MESH_PORT = 4370;
export const HTTP_PORT = 4380;

/** One HTTP exchange: `code` is "ok" for 2xx, the node's error code, or "timeout"/"network" (no answer). */
export type Answer<T = unknown> = Reply<T>;

function randomSecret(): string {
  const b = new Uint8Array(24);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export class NsNode {
  child: RoomyChild | null = null;
  readonly #log = new LogTail();
  constructor(
    readonly index: number,
    private readonly topo: Topology,
    private readonly token: string,
  ) {}

  get name(): string {
    return `n${this.index}`;
  }
  get url(): string {
    return `http://${this.topo.controlAddress(this.index)}:${HTTP_PORT}`;
  }
  get alive(): boolean {
    return this.child !== null && this.child.alive;
  }
  logs(): string {
    return this.#log.text();
  }

  async start(binary: string, cookie: string, args: string[], deadlineMs = 60_000): Promise<void> {
    const t = this.topo;
    const join = Array.from({ length: t.size }, (_, j) => j).filter((j) => j !== this.index).flatMap((j) => ["--join", `${t.meshAddress(j)}:${MESH_PORT}`]);
    const argv = [binary, "node", "--name", this.name, "--bind", `${t.meshAddress(this.index)}:${MESH_PORT}`,
      "--http", `${t.controlAddress(this.index)}:${HTTP_PORT}`, ...join, ...args];
    this.#log.add(`--- ${this.name} started ${new Date().toISOString()}\n`);
    this.child = new RoomyChild(argv, {
      env: { ROOMY_COOKIE: cookie, ROOMY_ADMIN_TOKEN: this.token },
      log: this.#log,
      spawn: (a, env) => t.spawn(this.index, a, env),
    });
    await this.child.line(LISTENING, deadlineMs, `${this.name}'s listening line`);
  }

  async kill(): Promise<void> {
    await this.child?.kill();
  }

  call<T = unknown>(method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 8_000): Promise<Answer<T>> {
    // A fresh connection per request: a pooled keep-alive connection the node
    // closes after 10 s idle, reused at that instant, fails with ECONNRESET,
    // which would read as the node failing (the control link is never cut).
    return request<T>(this.url + path, {
      method,
      body,
      timeoutMs,
      headers: { authorization: `Bearer ${this.token}`, connection: "close" },
      keepalive: false,
    });
  }
}

export interface Member {
  name: string;
  state: string;
}

export class NsCluster {
  readonly nodes: NsNode[];
  readonly token = randomSecret();
  readonly cookie = randomSecret();

  constructor(readonly topo: Topology, private readonly args: string[]) {
    this.nodes = Array.from({ length: topo.size }, (_, i) => new NsNode(i, topo, this.token));
  }

  /** Node id (as in HLC stamps) -> name, filled by start(). */
  readonly names = new Map<string, string>();

  /** Starts every node; resolves once each answers /readyz 200 and sees every node alive. */
  async start(binary: string, deadlineMs = 90_000): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start(binary, this.cookie, this.args)));
    await this.settled(deadlineMs);
    for (const n of this.nodes) {
      const a = await n.call<{ id: string; name: string }>("GET", "/v1/node", undefined, 5_000);
      if (a.body !== null) this.names.set(a.body.id, a.body.name);
    }
  }

  /** Until every node is ready and sees every node alive (the cluster is whole again). */
  async settled(deadlineMs: number, among: readonly NsNode[] = this.nodes): Promise<void> {
    await until("every node ready and seeing all alive", async () => {
      for (const n of among) {
        const r = await n.call("GET", "/readyz", undefined, 2_000);
        if (r.status !== 200) throw new Error(`${n.name} /readyz ${r.status ?? r.code} ${r.message}`);
        const m = await n.call<Member[]>("GET", "/v1/cluster/members", undefined, 2_000);
        if (m.code !== "ok" || m.body === null) throw new Error(`${n.name} members: ${m.code}`);
        const alive = m.body.filter((x) => x.state === "alive").map((x) => x.name).sort();
        if (alive.length !== this.nodes.length) throw new Error(`${n.name} sees alive ${alive.join(",")}`);
      }
      return true;
    }, deadlineMs, 200);
  }

  /** The owner of `room`'s process as `asker` places it now (GET /v1/overview's `owner`). */
  async ownerOf(room: string, asker: NsNode = this.nodes[0]!): Promise<string> {
    const r = await asker.call<{ rooms: { name: string; owner: string }[] }>("GET", `/v1/overview?${new URLSearchParams({ q: room, limit: "500" })}`);
    const owner = r.body?.rooms.find((x) => x.name === room)?.owner;
    if (owner === undefined) throw new Error(`${asker.name} /v1/overview has no owner for ${room}: ${r.code} ${r.message}`);
    return owner;
  }

  /**
   * Adds this cluster's token to every plain fetch() to one of its nodes, for
   * the helpers written for open loopback nodes (walk-load.ts, churn-load.ts,
   * takeDump); the nodes listen on control addresses, so they need one.
   * Returns the undo.
   */
  authorizeFetch(): () => void {
    const plain = globalThis.fetch;
    const prefixes = this.nodes.map((n) => n.url + "/");
    const auth = `Bearer ${this.token}`;
    const wrapped = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (!prefixes.some((p) => url.startsWith(p))) return plain(input, init);
      const headers = new Headers(init?.headers);
      if (!headers.has("authorization")) headers.set("authorization", auth);
      return plain(input, { ...init, headers });
    };
    globalThis.fetch = Object.assign(wrapped, { preconnect: plain.preconnect }) as typeof fetch;
    return () => {
      globalThis.fetch = plain;
    };
  }

  node(name: string): NsNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }

  logs(): string {
    return this.nodes.map((n) => n.logs()).join("\n");
  }
}
