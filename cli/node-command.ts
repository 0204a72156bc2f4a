/**
 * `roomy node`: flags and ROOMY_* variables (a flag beats its variable)
 * resolved into node settings, the node started and served over HTTP, a
 * listening line printed, then a ready line once /readyz would say so, and a
 * drain on SIGTERM/SIGINT before exiting 0. A port in use is one line, exit 4.
 */
import { every } from "../adapter/clock.ts";
import { readTextFile } from "../adapter/files.ts";
import { hostname } from "../adapter/process.ts";
import { RoomyError } from "../core/errors.ts";
import { nameProblem } from "../core/names.ts";
import { MAX_GATES, MAX_SPACES } from "../core/parking/parking.ts";
import { createApp, serverRefusal } from "../http/app.ts";
import { adminExposureProblem } from "../http/auth.ts";
import { HARD_BODY_CAP_BYTES } from "../http/body.ts";
import { readiness } from "../http/readiness.ts";
import { staticRoutes } from "../http/instrument.ts";
import { bodyCap, serve } from "../adapter/serve.ts";
import { accepts } from "../adapter/reach.ts";
import type { Logger } from "../mesh/types.ts";
import { DEFAULT_BIND, DEFAULT_GATES, DEFAULT_HTTP, DEFAULT_SPACES, type NodeSettings, parseHostPort } from "../mesh/node/config.ts";
import { startNode } from "../mesh/node/node.ts";
import { meshCluster } from "../mesh/node/tcp-parts.ts";
import { LOT_MODES, PROFILES } from "../mesh/node/config.ts";
import type { WriteConcern } from "../mesh/replication/types.ts";
import { flagOrEnv, type OptionSpec, type RawArgs } from "./argv.ts";
import { CannotStartError, EXIT_OK, UsageError } from "./exit.ts";
import type { CliIo } from "./io.ts";
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";
import { shutdownSignal } from "../adapter/signals.ts";

const o = (name: string, placeholder: string, env: string, description: string, repeat = false): OptionSpec => ({
  name,
  value: true,
  placeholder,
  env,
  description,
  repeat,
});

/** Every flag of `roomy node`, with its variable (the k8s manifests are checked against this). */
export const NODE_OPTIONS: OptionSpec[] = [
  o("name", "NAME", "ROOMY_NAME", "stable node name (default: the host name; plus -PORT when the mesh port is not 4370)"),
  o("bind", "HOST:PORT", "ROOMY_BIND", `mesh listen address (default ${DEFAULT_BIND})`),
  o("advertise", "HOST:PORT", "ROOMY_ADVERTISE", "mesh address other nodes dial (default: --bind)"),
  o("join", "HOST:PORT", "ROOMY_JOIN", "seed node to join; repeat or comma-separate", true),
  o("discover", "dns:SERVICE[:PORT]", "ROOMY_DISCOVER", "find peers by DNS (a headless service)"),
  o("http", "HOST:PORT", "ROOMY_HTTP", `admin API address (default ${DEFAULT_HTTP}; port 0 picks one)`),
  o("cookie", "SECRET", "ROOMY_COOKIE", "the cluster's shared secret"),
  o("cookie-file", "PATH", "ROOMY_COOKIE_FILE", "read the cookie from a file"),
  o("tls-cert", "PATH", "ROOMY_TLS_CERT", "mesh TLS certificate (PEM)"),
  o("tls-key", "PATH", "ROOMY_TLS_KEY", "mesh TLS private key (PEM)"),
  o("tls-ca", "PATH", "ROOMY_TLS_CA", "CA that signs peers' certificates (PEM)"),
  o("write-concern", "1|2|majority|all", "ROOMY_WRITE_CONCERN", "nodes that must hold a write before ok (default majority)"),
  o("profile", "lan|local|wan", "ROOMY_PROFILE", "failure-detection timing profile (default lan)"),
  o("lot", "raft|crdt", "ROOMY_LOT", "the lot: raft (linearizable, default) or crdt (replicated map, eventually consistent reads)"),
  o("voters", "N", "ROOMY_VOTERS", "at most N Raft voters, the other members learners (default 5)"),
  o("gates", "N", "ROOMY_GATES", `parking gates (default ${DEFAULT_GATES})`),
  o("spaces", "N", "ROOMY_SPACES", `parking spaces (default ${DEFAULT_SPACES})`),
  o("log-level", "LEVEL", "ROOMY_LOG_LEVEL", "debug, info, warn or error (default info)"),
  o("log-format", "json|pretty", "ROOMY_LOG_FORMAT", "log line format (default pretty)"),
];

/**
 * Variables of `roomy node` that have no flag: secrets stay out of `ps`
 * (the k8s manifests are checked against these too).
 */
export const NODE_ENV_ONLY: { env: string; description: string }[] = [
  { env: "ROOMY_ADMIN_TOKEN", description: "bearer token the admin API requires on /v1 (required when --http is not loopback)" },
  { env: "ROOMY_DNS_SERVER", description: "HOST:PORT of the DNS server for --discover (tests, air-gapped setups; default: the system's)" },
];

const spec = (name: string): OptionSpec => NODE_OPTIONS.find((s) => s.name === name)!;

export interface NodeFlags {
  settings: NodeSettings;
  http: { host: string; port: number };
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** ROOMY_ADMIN_TOKEN (trimmed); undefined: the /v1 routes are open (loopback only). */
  adminToken: string | undefined;
  /** ROOMY_DNS_SERVER */
  dnsServer: string | undefined;
}

/** Flags and variables checked and resolved; throws UsageError naming the culprit. */
export function resolveNodeFlags(raw: RawArgs, env: Record<string, string | undefined>): NodeFlags {
  const get = (name: string) => flagOrEnv(raw, spec(name), env);
  // What a refusal names: the flag, or the flag and the variable the value came from.
  const named = (name: string): string => ((raw.values.get(name)?.length ?? 0) > 0 || spec(name).env === undefined ? `--${name}` : `--${name} (${spec(name).env})`);
  const settings: NodeSettings = {};
  const bindFlag = get("bind");
  // Two nodes on one machine must not share a name: add the port unless it is the default.
  const port = bindFlag === undefined ? "4370" : bindFlag.slice(bindFlag.lastIndexOf(":") + 1);
  settings.name = get("name") ?? (port === "4370" ? safeHostname() : `${safeHostname()}-${port}`);
  const nameWrong = get("name") === undefined ? null : nameProblem(settings.name);
  if (nameWrong !== null) throw new UsageError(`${named("name")} ${nameWrong}`);
  for (const k of ["bind", "advertise"] as const) {
    const v = get(k);
    if (v !== undefined) settings[k] = address(named(k), v);
  }
  const joinFlags = raw.values.get("join");
  const joinValues = joinFlags !== undefined ? joinFlags : env["ROOMY_JOIN"] ? [env["ROOMY_JOIN"]] : [];
  const join = joinValues.flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "");
  settings.join = join.map((j) => address(named("join"), j));
  const discover = get("discover");
  if (discover !== undefined) {
    if (!/^dns:[^:\s]+(?::\d{1,5})?$/.test(discover)) throw new UsageError(`${named("discover")} must look like dns:SERVICE[:PORT], got ${JSON.stringify(discover)}`);
    settings.discover = discover;
  }
  settings.cookie = cookie(raw, env);
  const tls = { cert: get("tls-cert"), key: get("tls-key"), ca: get("tls-ca") };
  if (tls.cert !== undefined || tls.key !== undefined || tls.ca !== undefined) {
    if ((tls.cert === undefined) !== (tls.key === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
    settings.tls = tls;
  }
  const wc = get("write-concern");
  if (wc !== undefined) settings.writeConcern = writeConcern(named("write-concern"), wc);
  const profile = get("profile");
  if (profile !== undefined) settings.profile = oneOf(named("profile"), profile, PROFILES);
  const lot = get("lot");
  if (lot !== undefined) settings.lot = oneOf(named("lot"), lot, LOT_MODES);
  const voters = get("voters");
  if (voters !== undefined) settings.maxVoters = integer(named("voters"), voters, 1, MAX_VOTERS);
  const gates = get("gates");
  if (gates !== undefined) settings.gates = integer(named("gates"), gates, 1, MAX_GATES);
  const spaces = get("spaces");
  if (spaces !== undefined) settings.spaces = integer(named("spaces"), spaces, 0, MAX_SPACES);
  const httpAddr = get("http") ?? DEFAULT_HTTP;
  const http = parseHostPort(httpAddr);
  if (http === null) throw new UsageError(`${named("http")} must be HOST:PORT, got ${JSON.stringify(httpAddr)}`);
  const logLevel = oneOf(named("log-level"), get("log-level") ?? "info", LOG_LEVELS);
  const logFormat = oneOf(named("log-format"), get("log-format") ?? "pretty", LOG_FORMATS);
  const token = adminToken(env["ROOMY_ADMIN_TOKEN"]);
  const exposed = adminExposureProblem(http.host, token);
  if (exposed !== null) throw new UsageError(exposed);
  const dnsServer = env["ROOMY_DNS_SERVER"] || undefined;
  if (dnsServer !== undefined && parseHostPort(dnsServer) === null) {
    throw new UsageError(`ROOMY_DNS_SERVER must be HOST:PORT, got ${JSON.stringify(dnsServer)}`);
  }
  return { settings, http, logLevel, logFormat, adminToken: token, dnsServer };
}

/** Runs a node until SIGTERM/SIGINT; resolves with the exit code. */
export async function runNode(raw: RawArgs, io: CliIo): Promise<number> {
  const flags = resolveNodeFlags(raw, io.env);
  // Listen for signals before anything async: a supervisor may send one as
  // soon as it sees the listening line.
  const logger = createLogger({ level: flags.logLevel, format: flags.logFormat, base: { node: flags.settings.name } });
  const signal = shutdownSignal((sig) => logger.warn("a second signal while draining: exiting now with 1, the drain unfinished", { signal: sig }));
  // A first node restarted with its own command must find the cluster it was in, not start another (wiring.ts aloneWait).
  const cluster = meshCluster({ dnsServer: flags.dnsServer, aloneWait: true });
  let node;
  try {
    node = await startNode({ ...flags.settings, logger, cluster });
  } catch (err) {
    if (err instanceof RoomyError && err.code === "bad_request") throw new UsageError(err.message);
    throw cannotListen(err, "mesh", flags.settings.bind ?? DEFAULT_BIND) ?? err;
  }
  const app = createApp(node, {
    serverBodyCap: bodyCap(HARD_BODY_CAP_BYTES),
    adminToken: flags.adminToken,
    accessLog: flags.logLevel === "debug",
  });
  let served;
  try {
    served = serve({
      hostname: flags.http.host,
      port: flags.http.port,
      fetch: app.fetch,
      routes: staticRoutes(app),
      maxRequestBodySize: HARD_BODY_CAP_BYTES,
      refusal: serverRefusal(),
    });
  } catch (err) {
    await node.stop();
    throw cannotListen(err, "http", `${flags.http.host}:${flags.http.port}`) ?? err;
  }
  if (flags.adminToken !== undefined) logger.info("the admin API requires its bearer token on /v1", { http: served.url });
  void checkAdvertise(flags.settings.advertise, logger);
  // Say only what is true: serving now, ready (what /readyz answers 200
  // for) when it is; a node whose peers all refuse it never is.
  const where = `http=${served.url} mesh=${node.meshAddress() ?? "none"}`;
  await io.out(`roomy node ${node.name} listening ${where}\n`);
  const started = node;
  const printReady = (): boolean => {
    if (!readiness(started).ready) return false;
    void io.out(`roomy node ${started.name} ready ${where}\n`);
    return true;
  };
  if (!printReady()) {
    const stopPolling = every(READY_POLL_MS, () => printReady() && stopPolling());
    void signal.then(() => stopPolling());
  }
  const sig = await signal;
  logger.info("shutting down", { signal: sig });
  await node.stop();
  await served.stop();
  return EXIT_OK;
}

/** How often the CLI asks whether the node has become ready (to print the ready line). */
const READY_POLL_MS = 50;
/** How long the --advertise check waits for a connect (a firewall that drops rather than refuses). */
const ADVERTISE_CHECK_MS = 3_000;

/** A listen failure as one line (exit 4), or null when `err` is something else. */
function cannotListen(err: unknown, what: "mesh" | "http", address: string): CannotStartError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "EADDRINUSE") return new CannotStartError(`${what} port ${address} is in use`);
  if (typeof code === "string" && /^E(ADDRNOTAVAIL|ACCES|PERM)$/.test(code)) {
    return new CannotStartError(`cannot listen on the ${what} address ${address} (${code})`);
  }
  return null;
}

function cookie(raw: RawArgs, env: Record<string, string | undefined>): string | undefined {
  const flag = raw.values.get("cookie")?.at(-1);
  const fileFlag = raw.values.get("cookie-file")?.at(-1);
  if (flag !== undefined && fileFlag !== undefined) throw new UsageError("give --cookie or --cookie-file, not both");
  let value = flag;
  let file = fileFlag;
  if (value === undefined && file === undefined) {
    value = env["ROOMY_COOKIE"] || undefined;
    file = env["ROOMY_COOKIE_FILE"] || undefined;
    if (value !== undefined && file !== undefined) throw new UsageError("set ROOMY_COOKIE or ROOMY_COOKIE_FILE, not both");
  }
  if (file !== undefined) {
    try {
      value = readTextFile(file).replace(/\r?\n$/, "");
    } catch (err) {
      throw new UsageError(`cannot read the cookie file ${JSON.stringify(file)}: ${(err as Error).message}`);
    }
  }
  if (value !== undefined && value.length === 0) throw new UsageError("the cookie must not be empty");
  return value;
}

function address(flag: string, v: string): string {
  if (parseHostPort(v) === null) throw new UsageError(`${flag} must be HOST:PORT, got ${JSON.stringify(v)}`);
  return v;
}

/** The whole range in the message: the node's own check would name its setting (maxVoters), not the flag. */
function integer(flag: string, v: string, min: number, max: number): number {
  if (!/^[0-9]{1,10}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** Raft voters a cluster may have (mesh/node/config.ts checks the same). */
const MAX_VOTERS = 15;

function writeConcern(flag: string, v: string): WriteConcern {
  if (v === "1") return 1;
  if (v === "2") return 2;
  if (v === "majority" || v === "all") return v;
  throw new UsageError(`${flag} must be 1, 2, majority or all, got ${JSON.stringify(v)}`);
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

function safeHostname(): string {
  try {
    const h = hostname();
    if (h !== "") return h;
  } catch {
    // fall through: no host name available
  }
  return "roomy";
}

/**
 * The admin token as set, without a trailing newline (secrets made with
 * `echo`); never logged. It travels as a header value, so printable ASCII
 * only: the node's own and the one a client sends (`what`: how it was given).
 */
export function adminToken(v: string | undefined, what = "ROOMY_ADMIN_TOKEN"): string | undefined {
  if (v === undefined) return undefined;
  const t = v.replace(/\r?\n$/, ""); // one newline, as the README says: a second is a mistake to report
  if (t === "") return undefined;
  if (!/^[\x21-\x7e]+$/.test(t)) throw new UsageError(`${what} must be printable ASCII without spaces`);
  return t;
}

/**
 * A given --advertise that nothing answers at, from this node, is warned of
 * once: peers dial it, and a node whose address nobody can dial still joins
 * (it dials them) and may even become a voter reached only over its own
 * connections (an operator's typo went unnoticed).
 */
async function checkAdvertise(advertise: string | undefined, logger: Logger): Promise<void> {
  const a = advertise === undefined ? null : parseHostPort(advertise);
  if (a === null) return;
  if (await accepts(a.host, a.port, ADVERTISE_CHECK_MS)) return;
  logger.warn("--advertise: nothing accepts connections at that address from this node; the other nodes dial it (a typo, or a firewall or NAT in the way?)", { advertise });
}
