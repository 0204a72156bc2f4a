/**
 * A typed client of the admin API (fetch-based; used by the CLI and tests).
 * Error answers come back as RoomyError with the node's code; no answer at
 * all (refused, reset, timed out) is a NoNodeError, so callers can tell
 * "the node said no" from "nobody is there". `unavailable` (no owner
 * reachable yet) is retried with backoff within a deadline.
 */
import type { ConsensusStatus } from "../mesh/consensus/driver-types.ts";
import { isErrorCode, RoomyError } from "../core/errors.ts";
import type { LotInfo } from "../core/parking/parking.ts";
import type { MemberState } from "../mesh/membership/types.ts";
import type { GateInfo } from "../mesh/apps/parking.ts";
import type { CrdtDump } from "./routes.ts";
import { realClock, sleep } from "../adapter/clock.ts";

export const DEFAULT_NODE_URL = "http://127.0.0.1:4380";

/** No node answered at `url`. */
export class NoNodeError extends Error {
  readonly url: string;
  constructor(url: string, reason: string) {
    super(`no node answered at ${url}: ${reason}`);
    this.name = "NoNodeError";
    this.url = url;
  }
}

export interface ClientOptions {
  /** Per request (default 10 s); a node that says nothing for this long counts as absent. */
  timeoutMs?: number;
  /** Keep retrying `unavailable` answers for this long (default 5 s; 0: never). */
  retryForMs?: number;
  /** Bearer token for the admin API (ROOMY_ADMIN_TOKEN). */
  token?: string;
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface MemberInfo {
  name: string;
  address: string;
  state: MemberState;
  incarnation: number;
}

export interface NodeInfo {
  name: string;
  id: string;
  ready: boolean;
  mesh: string | null;
  gates: number;
  spaces: number;
}

/** GET /v1/consensus: this node's view of the Raft log, and which lot it runs. */
export type ConsensusInfo = ConsensusStatus & { lot: string };

export class RoomyClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly retryForMs: number;
  private readonly token: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(url: string = DEFAULT_NODE_URL, opts: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retryForMs = opts.retryForMs ?? 5_000;
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? fetch;
  }

  async addRooms(rooms: string[], capacity?: number | null): Promise<void> {
    await this.post("/v1/rooms", capacity === undefined ? { rooms } : { rooms, capacity });
  }
  rooms(): Promise<string[]> {
    return this.get("/v1/rooms");
  }
  async walkInto(room: string, people: string[]): Promise<void> {
    await this.post("/v1/walk-into", { room, people });
  }
  async leave(people: string[]): Promise<void> {
    await this.post("/v1/leave", { people });
  }
  whoIsIn(room: string): Promise<string[]> {
    return this.get(`/v1/who-is-in?${new URLSearchParams({ room })}`);
  }
  async whereIs(person: string): Promise<string | null> {
    const r = await this.get<{ room: string | null }>(`/v1/where-is?${new URLSearchParams({ person })}`);
    return r.room;
  }
  dump(rooms: string[] = []): Promise<Record<string, string[]>> {
    const q = new URLSearchParams(rooms.map((r) => ["room", r]));
    return this.get(rooms.length === 0 ? "/v1/dump" : `/v1/dump?${q}`);
  }
  members(): Promise<MemberInfo[]> {
    return this.get("/v1/cluster/members");
  }
  async park(gate: number | string, plate: string): Promise<void> {
    await this.post(`/v1/gates/${encodeURIComponent(String(gate))}/park`, { plate });
  }
  async unpark(gate: number | string, plate: string): Promise<void> {
    await this.post(`/v1/gates/${encodeURIComponent(String(gate))}/unpark`, { plate });
  }
  lot(): Promise<LotInfo> {
    return this.get("/v1/lot");
  }
  gates(): Promise<GateInfo[]> {
    return this.get("/v1/gates");
  }
  crdt(): Promise<CrdtDump> {
    return this.get("/v1/crdt");
  }
  consensus(): Promise<ConsensusInfo> {
    return this.get("/v1/consensus");
  }
  /** End the consensus generation knowingly (POST /v1/recover {"force":true}); answers the new status. */
  recover(): Promise<ConsensusInfo> {
    return this.post("/v1/recover", { force: true });
  }
  node(): Promise<NodeInfo> {
    return this.get("/v1/node");
  }
  /** Whether the node answers /healthz with 200 (false if it answers otherwise; NoNodeError if nobody does). */
  async healthy(): Promise<boolean> {
    return (await this.raw("GET", "/healthz")).status === 200;
  }
  /** Whether the node answers /readyz with 200. */
  async ready(): Promise<boolean> {
    return (await this.raw("GET", "/readyz")).status === 200;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  /** One API call: errors mapped, `unavailable` retried with backoff until the deadline. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const deadline = realClock.now() + this.retryForMs;
    let delay = 50;
    for (;;) {
      try {
        return await this.once<T>(method, path, body);
      } catch (err) {
        const retry = err instanceof RoomyError && err.code === "unavailable" && realClock.now() + delay < deadline;
        if (!retry) throw err;
        await sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  private async once<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    const text = await res.text().catch((err: unknown) => {
      throw new NoNodeError(this.url, `reading the answer failed: ${String(err)}`);
    });
    let parsed: unknown;
    let isJson = true;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      isJson = false;
    }
    // Every 2xx of /v1 is JSON: anything else (a proxy's page, another
    // server on the port) is not an answer, never taken as "ok".
    if (res.ok && isJson && text !== "") return parsed as T;
    if (res.ok) throw new RoomyError("internal", `HTTP ${res.status} from ${method} ${path} is not a JSON answer: ${JSON.stringify(text.slice(0, 200))}`);
    const e = (parsed as { error?: { code?: unknown; message?: unknown; no_effect?: unknown } } | undefined)?.error;
    if (e !== undefined && isErrorCode(e.code)) {
      // no_effect kept: the caller may then retry a write knowing it did not run.
      throw new RoomyError(e.code, typeof e.message === "string" ? e.message : e.code, e.no_effect === true);
    }
    throw new RoomyError(res.status === 404 ? "not_found" : "internal", `HTTP ${res.status} from ${method} ${path}: ${text.slice(0, 200)}`);
  }

  private async raw(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token !== undefined) headers["authorization"] = `Bearer ${this.token}`;
    try {
      return await this.fetchFn(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : jsonBody(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const m = err instanceof Error ? err.message : String(err);
      // The runtime's own words for a non-HTTP answer ("Malformed_HTTP_Response ... pass `verbose: true` ...") help nobody here.
      throw new NoNodeError(this.url, /malformed_?http|parse error|invalid http|http\/1/i.test(m) ? "the answer was not HTTP: is that a mesh address (--bind, port 4370 by default)? the admin API is the node's --http, port 4380 by default" : m);
    }
  }
}

/** A client of the node at `url` (default http://127.0.0.1:4380). */
export function createClient(url?: string, opts?: ClientOptions): RoomyClient {
  return new RoomyClient(url, opts);
}

/**
 * `body` as JSON text, U+FFFD written as its escape: the server refuses a
 * raw U+FFFD as the mark of bytes that were not UTF-8 (http/body.ts), so a
 * name that truly holds one goes as `\ufffd`, which it takes.
 */
export function jsonBody(body: unknown): string {
  return JSON.stringify(body).replaceAll("\uFFFD", "\\ufffd");
}
