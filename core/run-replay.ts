/** The replay fold is shared with the browser (a snapshot is replayed there): it lives in protocol. */
export * from "../protocol/run-replay-fold.js";
