/**
 * What a leader does about the configuration on each tick, apart from the
 * Raft core: propose the next one-server change (reconfigure.ts) once the
 * registry says a majority of the holders caught up (only when the change
 * adds or drops a holder), hand leadership over when this node drains, and
 * tell live members outside the committed configuration that they are
 * (config-notice.ts), now and then and after each change.
 */
import type { Logger, Transport } from "../types.ts";
import type { MembershipView } from "../membership/types.ts";
import { noticeMsg } from "./config-notice.ts";
import type { ConsensusOptions } from "./driver-types.ts";
import type { RaftCore } from "./raft.ts";
import { nextConfiguration } from "./reconfigure.ts";
import { changeStuck } from "./stuck-change.ts";
import { type Configuration, ENTRY_CONFIG, placedAt, type Server } from "./types.ts";

/** Every so many ticks a leader re-sends its configuration notice to outsiders (lost messages). */
const NOTICE_EVERY_TICKS = 10;

/** Whether `b` has other members (by id) than `a`, voters and learners together. */
export function changesHolders(a: Configuration, b: Configuration): boolean {
  return placedAt(b) !== placedAt(a);
}

export class ConfigChanges {
  #lastHandOver = -Infinity;
  #ticks = 0;

  constructor(
    private readonly o: ConsensusOptions & { membership: MembershipView; transport: Transport; logger: Logger },
    private readonly self: Server,
    /** An election timeout, ms: how often a draining leader may try to hand over. */
    private readonly resendMs: () => number,
  ) {}

  /** On each tick with a core. */
  tick(core: RaftCore, generation: number): void {
    const stuck = core.config;
    if (changeStuck(stuck, core.committedConfig(), this.self, (this.o.everyone ?? this.o.membership).live()) && core.abandonConfig()) {
      this.o.logger.warn("consensus: gave up a configuration change that can never commit (most of its voters restarted)", { epoch: stuck.epoch, voters: stuck.voters.map((v) => v.name) });
    }
    if (core.state.role === "leader" && this.o.selfDraining?.() === true) this.handOver(core);
    if (++this.#ticks % NOTICE_EVERY_TICKS === 0) this.noticeOutsiders(core, generation);
    this.reconfigure(core);
  }

  /** Draining: lead no more, so another voter's leader drops this node (once per election timeout). */
  private handOver(core: RaftCore): void {
    const now = this.o.clock.now();
    if (now - this.#lastHandOver < this.resendMs()) return;
    const draining = this.o.draining?.() ?? new Set<string>();
    const live = new Set(this.o.membership.live().map((m) => m.id));
    for (const v of core.config.voters) {
      if (v.id === this.self.id || !live.has(v.id) || draining.has(v.name)) continue;
      if (core.transferTo(v.id)) {
        this.#lastHandOver = now;
        this.o.logger.info("consensus: draining; leadership handed over", { to: v.name });
        return;
      }
    }
  }

  private reconfigure(core: RaftCore): void {
    if (!core.canChangeConfig()) return;
    // A draining member counts as gone: the next configuration drops it and its names move.
    const draining = this.o.draining?.() ?? new Set<string>();
    // A member outside the configuration joins once it pulled the holders'
    // data (mayAdd), so it does not own names it cannot serve for seconds.
    const inside = new Set([...core.config.voters, ...core.config.learners].map((x) => x.id));
    // Every live member still answers (self too, even once it announced its leave); draining ones are not kept.
    const members = this.o.membership.live().map((m): Server => ({ id: m.id, name: m.name, address: m.address }));
    const answering = members.some((m) => m.id === this.self.id) ? members : [...members, this.self];
    const live = members
      .filter((m) => m.id === this.self.id || !draining.has(m.name))
      .filter((m) => m.id === this.self.id || inside.has(m.id) || this.o.mayAdd === undefined || this.o.mayAdd(m.name));
    const next = nextConfiguration({
      config: core.config,
      self: this.self,
      live,
      answering,
      selfDraining: this.o.selfDraining?.() ?? false,
      heard: (id) => core.heardLately(id),
      match: (id) => core.progressOf(id)?.match ?? 0,
      commit: core.commit,
      maxVoters: this.o.maxVoters ?? 5,
    });
    if (next === null) return;
    // Adding or dropping a data holder waits until a majority caught up for the
    // current epoch; promoting or demoting (same holders) moves no data.
    const committed = core.committedConfig();
    if (changesHolders(committed, next) && this.o.mayChange !== undefined && !this.o.mayChange(committed, next)) return;
    if (core.propose(next, ENTRY_CONFIG) !== null) {
      this.o.logger.info("consensus: configuration change proposed", {
        epoch: next.epoch, voters: next.voters.map((s) => s.name), learners: next.learners.map((s) => s.name),
      });
    }
  }

  /** Leader: tell live members outside the committed configuration. */
  noticeOutsiders(core: RaftCore, generation: number): void {
    if (core.state.role !== "leader") return;
    const c = core.committedConfig();
    const inside = new Set([...c.voters, ...c.learners].map((s) => s.id));
    const msg = noticeMsg(this.self.id, generation, c);
    for (const m of this.o.membership.live()) if (!inside.has(m.id)) this.o.transport.send(m.address, msg);
  }
}
