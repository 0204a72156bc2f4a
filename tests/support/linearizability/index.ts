export { checkLot } from "./check.ts";
export { describeOp } from "./model.ts";
export { type HistoryRecorder, historyRecorder } from "./recorder.ts";
export type * from "./types.ts";
