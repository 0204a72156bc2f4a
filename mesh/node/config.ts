/**
 * A node's configuration: what `roomy node` flags and ROOMY_* variables set,
 * resolved to defaults and checked. Mesh settings are carried even while the
 * node runs as a cluster of one, so the cluster layer finds them here.
 */
import { RoomyError } from "../../core/errors.ts";
import { nameProblem } from "../../core/names.ts";
import { MAX_GATES, MAX_SPACES } from "../../core/parking/parking.ts";
import type { WriteConcern } from "../replication/types.ts";

export const DEFAULT_BIND = "127.0.0.1:4370";
export const DEFAULT_HTTP = "127.0.0.1:4380";
export const DEFAULT_GATES = 4;
export const DEFAULT_SPACES = 100;
/** Membership timing profiles (mesh/membership/config.ts). */
export const PROFILES = ["lan", "local", "wan"] as const;
export type Profile = (typeof PROFILES)[number];

/** Paths of the mesh's TLS material (`--tls-cert`, `--tls-key`, `--tls-ca`). */
export interface TlsPaths {
  cert?: string;
  key?: string;
  ca?: string;
}

/** What a caller may set; everything has a default. */
export interface NodeSettings {
  /** Stable node name (e.g. the pod name). Default: `roomy-<start id>`. */
  name?: string;
  /** Parking: number of gates (1..1000). Default 4. */
  gates?: number;
  /** Parking: spaces in the lot. Default 100. */
  spaces?: number;
  /** Mesh listen address. Default 127.0.0.1:4370. */
  bind?: string;
  /** Mesh address other nodes dial. Default: `bind`. */
  advertise?: string;
  /** Seed nodes to join. None (and no `discover`): a cluster of one. */
  join?: string[];
  /** `dns:SERVICE[:PORT]` discovery. */
  discover?: string;
  /** The cluster's shared secret. */
  cookie?: string;
  tls?: TlsPaths;
  /** How many nodes must hold a write before it is acknowledged (default: a majority of the members). */
  writeConcern?: WriteConcern;
  /** Membership timing profile. Default lan. */
  profile?: Profile;
  /** Default timeout of process calls. */
  callTimeoutMs?: number;
  /** Messages a process mailbox holds before refusing. */
  mailboxLimit?: number;
  /** Which lot: `raft` (linearizable, the default) or `crdt` (available under partition, eventually consistent). */
  lot?: LotMode;
  /** At most this many Raft voters (default 5); other members are learners. */
  maxVoters?: number;
}

export type LotMode = "raft" | "crdt";
export const LOT_MODES: readonly LotMode[] = ["raft", "crdt"];

export interface NodeConfig {
  name: string;
  gates: number;
  spaces: number;
  bind: string;
  advertise: string;
  join: string[];
  discover: string | null;
  cookie: string | null;
  tls: TlsPaths | null;
  writeConcern: WriteConcern | null;
  profile: Profile;
  callTimeoutMs: number;
  mailboxLimit: number;
  lot: LotMode;
  maxVoters: number;
}

const HOST_PORT = /^(?:\[[^\]]+\]|[^:\[\]\s]+):(\d{1,5})$/;

/** Defaults applied and every setting checked; throws `bad_request` naming the setting. */
export function resolveNodeConfig(s: NodeSettings, id: string): NodeConfig {
  const name = s.name ?? `roomy-${id.slice(0, 8)}`;
  const problem = nameProblem(name);
  if (problem !== null) bad(`node name ${problem}`);
  const bind = s.bind ?? DEFAULT_BIND;
  checkAddress("bind", bind);
  const advertise = s.advertise ?? bind;
  checkAddress("advertise", advertise);
  const join = [...new Set(s.join ?? [])];
  for (const j of join) checkAddress("join", j);
  if (s.discover !== undefined && !/^dns:[^:\s]+(?::\d{1,5})?$/.test(s.discover)) {
    bad(`discover must look like dns:SERVICE[:PORT], got ${JSON.stringify(s.discover)}`);
  }
  if (s.cookie !== undefined && s.cookie.length === 0) bad("cookie must not be empty");
  const wc = s.writeConcern;
  if (wc !== undefined && wc !== 1 && wc !== 2 && wc !== "majority" && wc !== "all") {
    bad(`write concern must be 1, 2, majority or all`);
  }
  return {
    name,
    gates: intIn("gates", s.gates ?? DEFAULT_GATES, 1, MAX_GATES),
    spaces: intIn("spaces", s.spaces ?? DEFAULT_SPACES, 0, MAX_SPACES),
    bind,
    advertise,
    join,
    discover: s.discover ?? null,
    cookie: s.cookie ?? null,
    tls: s.tls ?? null,
    writeConcern: wc ?? null,
    profile: s.profile ?? "lan",
    callTimeoutMs: intIn("callTimeoutMs", s.callTimeoutMs ?? 5000, 1, 3_600_000),
    mailboxLimit: intIn("mailboxLimit", s.mailboxLimit ?? 1024, 1, 10_000_000),
    lot: lotMode(s.lot),
    maxVoters: intIn("maxVoters", s.maxVoters ?? 5, 1, 15),
  };
}

/** Whether the settings ask for more than a cluster of one. */
export function wantsCluster(c: NodeConfig): boolean {
  return c.join.length > 0 || c.discover !== null;
}

function lotMode(v: unknown): LotMode {
  if (v === undefined) return "raft";
  if (v === "raft" || v === "crdt") return v;
  return bad(`lot must be raft or crdt, got ${JSON.stringify(v)}`);
}

function checkAddress(what: string, a: string): void {
  const m = HOST_PORT.exec(a);
  if (m === null || Number(m[1]) > 65535) bad(`${what} must be HOST:PORT, got ${JSON.stringify(a)}`);
}

function intIn(what: string, n: number, lo: number, hi: number): number {
  if (!Number.isInteger(n) || n < lo || n > hi) bad(`${what} must be an integer from ${lo} to ${hi}, got ${n}`);
  return n;
}

function bad(msg: string): never {
  throw new RoomyError("bad_request", msg);
}

/** "host:port" (IPv6 hosts bracketed) split; null if malformed. */
export function parseHostPort(a: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]\s]+)):(\d{1,5})$/.exec(a);
  if (m === null || Number(m[3]) > 65535) return null;
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}
