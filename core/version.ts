/** The version printed by `roomy --version` and labelled on /metrics: package.json's, bundled at build time (data, not I/O). */
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
