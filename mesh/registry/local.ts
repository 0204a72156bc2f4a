/**
 * The registry of a cluster of one: every name is owned by this node, so a
 * call is a push into the process's mailbox. Processes start lazily on their
 * first call (Swarm's register_name with a start function). The cluster
 * registry keeps this interface and adds placement, forwarding and handoff.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Clock, Logger } from "../types.ts";
import { silentLogger } from "../types.ts";
import { type CallTable, createCallTable } from "./calls.ts";
import { createMailbox, DEFAULT_MAILBOX_LIMIT, type MailJob, type Mailbox } from "./mailbox.ts";
import type { CallOptions, ProcessHandlers, Registry, RegistryStats } from "./types.ts";
import { createFactories } from "./factories.ts";

export const DEFAULT_CALL_TIMEOUT_MS = 5000;

export interface LocalRegistryOptions {
  /** This node's name: the owner of every process. */
  node: string;
  clock: Clock;
  logger?: Logger;
  /** Messages a mailbox holds before refusing with `unavailable`. */
  mailboxLimit?: number;
  /** Default timeout of `call` and `multiCall`. */
  callTimeoutMs?: number;
}

interface Proc {
  handlers: ProcessHandlers;
  mailbox: Mailbox;
}

/** One call in a mailbox: an object, not closures; its caller's timeout lives in the call table. */
class CallJob implements MailJob {
  constructor(
    private readonly calls: CallTable,
    private readonly id: number,
    private readonly handlers: ProcessHandlers,
    private readonly msg: unknown,
  ) {}

  run(): unknown {
    return this.handlers.handle(this.msg);
  }

  done(v: unknown): void {
    this.calls.resolve(this.id, v);
  }

  fail(err: unknown): void {
    this.calls.reject(this.id, err);
  }

  /** Its caller gave up: it never runs. */
  cancelled(): boolean {
    return !this.calls.isOpen(this.id);
  }
}

export function createLocalRegistry(opts: LocalRegistryOptions): Registry {
  const { node, clock } = opts;
  const logger = opts.logger ?? silentLogger;
  const mailboxLimit = opts.mailboxLimit ?? DEFAULT_MAILBOX_LIMIT;
  const defaultTimeout = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const factories = createFactories();
  const factoryFor = factories.factoryFor;
  const procs = new Map<string, Proc>();
  const groups = new Map<string, Set<string>>();
  const stats: RegistryStats = { processes: 0, handoffsOut: 0, handoffsIn: 0, callsLocal: 0, callsRemote: 0, forwards: 0 };
  let draining = false;
  // Timeouts share one timer per 10 ms slot instead of one per call.
  const calls = createCallTable(clock, defaultTimeout);

  function ensure(name: string): Proc {
    let p = procs.get(name);
    if (p !== undefined) return p;
    const factory = factoryFor(name);
    if (factory === undefined) throw new RoomyError("not_found", `no process type is defined for ${JSON.stringify(name)}`);
    p = { handlers: factory(name), mailbox: createMailbox(mailboxLimit) };
    procs.set(name, p);
    stats.processes = procs.size;
    logger.debug("process started", { process: name });
    return p;
  }

  function call<R>(name: string, msg: unknown, callOpts?: CallOptions): Promise<R> {
    if (draining) return Promise.reject(new RoomyError("unavailable", `node ${node} is draining; retry`));
    let p: Proc;
    try {
      p = ensure(name);
    } catch (err) {
      return Promise.reject(err);
    }
    stats.callsLocal++;
    const timeoutMs = callOpts?.timeoutMs ?? defaultTimeout;
    const id = calls.newId();
    const done = calls.open(id, name, timeoutMs, clock.now());
    p.mailbox.post(new CallJob(calls, id, p.handlers, msg));
    return done as Promise<R>;
  }

  function cast(name: string, msg: unknown): void {
    call(name, msg).catch((err: unknown) => logger.debug("cast failed", { process: name, error: String(err) }));
  }

  function members(group: string): string[] {
    return [...(groups.get(group) ?? [])].sort();
  }

  return {
    define: factories.define,
    call,
    cast,
    authoritative: () => true,
    ownerOf(_name: string): string {
      return node;
    },
    localNames(): string[] {
      return [...procs.keys()].sort();
    },
    join(group: string, name: string): Promise<void> {
      let g = groups.get(group);
      if (g === undefined) {
        g = new Set();
        groups.set(group, g);
      }
      g.add(name);
      return Promise.resolve();
    },
    leave(group: string, name: string): Promise<void> {
      const g = groups.get(group);
      if (g !== undefined) {
        g.delete(name);
        if (g.size === 0) groups.delete(group);
      }
      return Promise.resolve();
    },
    members,
    publish(group: string, msg: unknown): void {
      for (const name of members(group)) cast(name, msg);
    },
    async multiCall<R>(group: string, msg: unknown, callOpts?: CallOptions): Promise<R[]> {
      const names = members(group);
      const settled = await Promise.allSettled(names.map((n) => call<R>(n, msg, callOpts)));
      const out: R[] = [];
      for (const s of settled) if (s.status === "fulfilled") out.push(s.value);
      return out;
    },
    async drain(): Promise<void> {
      draining = true;
      await Promise.all([...procs.values()].map((p) => p.mailbox.idle()));
      // A cluster of one has no next owner: state that would be handed off ends here.
      for (const [name, p] of procs) {
        try {
          p.handlers.beginHandoff?.();
          p.handlers.stop?.();
        } catch (err) {
          logger.warn("process failed to stop", { process: name, error: String(err) });
        }
      }
      procs.clear();
      stats.processes = 0;
    },
    stats(): RegistryStats {
      return { ...stats };
    },
  };
}
