/**
 * Seeds for the whole-system simulation tests: SEED=n replays one seed,
 * SOAK=1 runs many (and longer) runs, otherwise a short fixed list keeps the
 * suite to a few seconds. The environment is read here, never in mesh/.
 */

export const SOAK = process.env["SOAK"] === "1";

/** Neither SOAK nor SEED: the suite's own seeds run (tests that only make sense there skip otherwise). */
export const DEFAULT_SEEDS = !SOAK && (process.env["SEED"] ?? "") === "";

/** The seeds to run: SEED if set; with SOAK, `soak` seeds from 1; else `defaults`. */
export function seeds(defaults: readonly number[], soak: number): number[] {
  const env = process.env["SEED"];
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n)) throw new Error(`SEED must be an integer, got ${env}`);
    return [n];
  }
  return SOAK ? Array.from({ length: soak }, (_, i) => i + 1) : [...defaults];
}

/** "SEED=n npx bun test <file>" (with SOAK=1 when soaking: runs are longer): how to replay one run. */
export function replay(seed: number, file: string): string {
  return `${SOAK ? "SOAK=1 " : ""}SEED=${seed} npx bun test ${file}`;
}
