/**
 * Raft timing per membership profile. lan: a tick of 50 ms, an election
 * timeout drawn from [500, 1000) ms and heartbeats every 100 ms, so a killed
 * leader is replaced in well under a second; local is twice as fast (tests
 * on one machine); wan five times slower.
 */
export interface ConsensusTiming {
  tickMs: number;
  electionTicks: number;
  timeoutMs: number;
}

export const profiles: Record<"lan" | "local" | "wan", ConsensusTiming> = {
  lan: { tickMs: 50, electionTicks: 10, timeoutMs: 3000 },
  local: { tickMs: 25, electionTicks: 10, timeoutMs: 3000 },
  wan: { tickMs: 250, electionTicks: 10, timeoutMs: 15000 },
};
