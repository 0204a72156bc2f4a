/**
 * How the consensus driver logs why writes cannot be served (status.ts
 * logAvailability): once per change of reason; an election with a majority
 * alive is routine (every drain of a leader has one) and said at INFO, so a
 * WARN is something to look at (a newcomer's walkthrough: every graceful
 * drain logged WARN "electing a leader").
 */
import { expect, test } from "bun:test";
import { ELECTING, logAvailability } from "../../../mesh/consensus/status.ts";

test("an election is INFO, a lost majority WARN, each once per change, and the return to service INFO", () => {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, f?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${String(f?.["reason"] ?? f?.["leader"] ?? "")}`);
  const logger = { debug: at("DEBUG"), info: at("INFO"), warn: at("WARN"), error: at("ERROR") };
  let was: string | null = null;
  for (const why of [ELECTING, ELECTING, null, "no majority of voters: 1 of 3 alive", "no majority of voters: 1 of 3 alive", null]) {
    was = logAvailability(logger, was, why, () => "n1", 2);
  }
  expect(lines).toEqual([
    "INFO consensus: unavailable electing a leader",
    "INFO consensus: available again n1",
    "WARN consensus: unavailable no majority of voters: 1 of 3 alive",
    "INFO consensus: available again n1",
  ]);
});
