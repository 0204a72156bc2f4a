/** The consensus metric families /metrics must carry, with their types (tests/http and tests/ship check them). */
export const CONSENSUS_FAMILIES: Record<string, string> = {
  roomy_consensus_term: "gauge",
  roomy_consensus_commit_index: "gauge",
  roomy_consensus_applied_index: "gauge",
  roomy_consensus_apply_lag: "gauge",
  roomy_consensus_leader_changes_total: "counter",
  roomy_consensus_is_leader: "gauge",
  roomy_consensus_generation: "gauge",
  roomy_consensus_generations_started_total: "counter",
  roomy_consensus_generations_ended_total: "counter",
  roomy_consensus_epoch: "gauge",
  roomy_consensus_voters: "gauge",
  roomy_consensus_available: "gauge",
  roomy_consensus_proposals_total: "counter",
  roomy_consensus_proposals_failed_total: "counter",
  roomy_consensus_relayed_total: "counter",
  roomy_consensus_relayed_for_others_total: "counter",
};
