/** Bumped whenever a wire message changes shape; checked when an agent or browser connects. */
export const PROTOCOL_VERSION = 2;
