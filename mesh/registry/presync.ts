/**
 * A live member outside the committed configuration (a node that joins, or
 * one restarted after the others dropped it) pulls the data from its live
 * peers before it is made a holder: the consensus leader adds a member only
 * once it said so (in its lease pings, `y`). Made a holder with nothing, it
 * owned its share of the names at once and every call for them waited out
 * its whole catch-up: 2 s at 200k people, 9-21 s at 1M under load
 * (tests/cluster/hostile-rejoin-write-stall). After the pre-sync its
 * catch-up for the epoch that adds it moves only what was written
 * meanwhile. Nothing here is needed for safety: a holder still fences and
 * pulls from a majority of the holders before it serves (serving.ts); an
 * outsider does not know the configuration before it is in the log, so it
 * pulls from half its live peers (rounded up), whichever answer.
 */
import type { Clock, Logger, Timer } from "../types.ts";

export interface PresyncOptions {
  clock: Clock;
  logger: Logger;
  /** Names of the live members but this node. */
  peers(): string[];
  /** Whether this node is a holder of the committed configuration now. */
  holder(): boolean;
  /** Whether this node drains: dropped from the configuration on its way out, it pulls nothing (it is not coming back). */
  leaving(): boolean;
  /** Pull from `peers` until `need` of them answered (the replicator's catch-up). */
  catchUpFrom(peers: readonly string[], need: number, timeoutMs: number): Promise<unknown>;
  retryMs: number;
  timeoutMs: number;
  /** Done: tell the others now (a lease ping) rather than at the next round. */
  done(): void;
}

export class Presync {
  #synced = false;
  #running = false;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(private readonly o: PresyncOptions) {
    this.#timer = o.clock.setTimer(0, () => this.check());
  }

  /** Whether this node, outside the configuration, pulled its peers' data (since it last was a holder). */
  get synced(): boolean {
    return this.#synced;
  }

  private check(): void {
    if (this.#stopped) return;
    this.#timer = this.o.clock.setTimer(this.o.retryMs, () => this.check());
    if (this.o.holder()) {
      this.#synced = false; // dropped later, it pulls again before it rejoins
      return;
    }
    if (this.#synced || this.#running || this.o.leaving()) return;
    const peers = this.o.peers();
    if (peers.length === 0) return;
    this.#running = true;
    const need = Math.ceil(peers.length / 2);
    this.o.catchUpFrom(peers, need, this.o.timeoutMs).then(
      () => {
        this.#running = false;
        if (this.#stopped || this.o.holder()) return;
        this.#synced = true;
        this.o.logger.info("pulled the cluster's data ahead of joining its holders", { from: peers, need });
        this.o.done();
      },
      (err: unknown) => {
        this.#running = false;
        this.o.logger.debug("pre-join pull incomplete; trying again", { error: String(err) });
      },
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }
}
