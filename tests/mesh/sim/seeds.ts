/**
 * Seeds for simulation tests. Each test runs a fixed list of seeds; a failing
 * run names its seed, and `SEED=n npx bun test <the test file>` replays
 * just that seed (the environment is read here, never in mesh/).
 */

/** The seeds to run: SEED from the environment if set, else `defaults`. */
export function seedsFor(defaults: readonly number[]): number[] {
  const env = process.env.SEED;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isFinite(n)) throw new Error(`SEED must be a number, got ${env}`);
    return [n];
  }
  return [...defaults];
}

/**
 * Run `body` once per seed; a failure is reported with its seed and the
 * command that replays it.
 */
export async function forEachSeed(
  defaults: readonly number[],
  body: (seed: number) => void | Promise<void>,
): Promise<void> {
  for (const seed of seedsFor(defaults)) {
    try {
      await body(seed);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const replay = `SEED=${seed} npx bun test ${process.argv.find((a) => a.endsWith(".test.ts")) ?? "<the test file>"}`;
      console.error(`sim test failed with seed ${seed}; replay: ${replay}`);
      if (err instanceof Error && !msg.includes(`seed ${seed}`)) err.message = `[seed ${seed}] ${msg}`;
      throw err;
    }
  }
}

/**
 * Per-test timeout for simulation tests: a backstop only (each run is bounded
 * in virtual time); generous because the machine may be busy.
 */
export const SIM_TEST_TIMEOUT_MS = 60_000;
