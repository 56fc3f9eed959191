/**
 * The log budget of one instance (the rule, no I/O). A log is kept whole until it reaches half the limit: that
 * is its head, never dropped. Past it every chunk is kept as tail, and the oldest tail chunks are dropped as long
 * as the tail is over the other half — so what is kept is how the log began and how it ended, as a person
 * debugging a flood wants it, and never more than the limit (plus one chunk: the newest is always kept).
 */
export interface LogChunkRef {
  seq: number;
  bytes: number;
}

export interface LogBudgetState {
  headBytes: number;
  /** seq of the head's last chunk (0: no head yet) */
  headEndSeq: number;
  /** once a chunk has gone to the tail, the head is closed (a later small chunk must not join it) */
  tailStarted: boolean;
  tail: LogChunkRef[];
  tailBytes: number;
  dropped: number;
}

export function emptyLogBudget(): LogBudgetState {
  return { headBytes: 0, headEndSeq: 0, tailStarted: false, tail: [], tailBytes: 0, dropped: 0 };
}

/** Where a chunk of `bytes` goes under `limit`: into the head, or into the tail (then `drop` says what to drop). */
function placeLogChunk(state: LogBudgetState, bytes: number, limit: number): "head" | "tail" {
  const half = Math.floor(limit / 2);
  return !state.tailStarted && state.headBytes + bytes <= half ? "head" : "tail";
}

/** Adds a stored chunk and returns the tail chunks to drop (oldest first); `state` is updated in place. */
export function addLogChunk(state: LogBudgetState, chunk: LogChunkRef, limit: number): LogChunkRef[] {
  if (placeLogChunk(state, chunk.bytes, limit) === "head") {
    state.headBytes += chunk.bytes;
    state.headEndSeq = chunk.seq;
    return [];
  }
  state.tailStarted = true;
  state.tail.push(chunk);
  state.tailBytes += chunk.bytes;
  const budget = limit - Math.floor(limit / 2);
  const drop: LogChunkRef[] = [];
  while (state.tailBytes > budget && state.tail.length > 1) {
    const oldest = state.tail.shift()!;
    state.tailBytes -= oldest.bytes;
    state.dropped += oldest.bytes;
    drop.push(oldest);
  }
  return drop;
}

/**
 * Rebuilds the state from the chunks still stored, in order (after a restart or an eviction). With nothing dropped
 * the rule itself gives back the same split; once tail chunks were dropped, a small later chunk could pass for
 * head, so the head's end as the last drop recorded it (`headEndSeq`) decides.
 */
export function rebuildLogBudget(
  stored: LogChunkRef[],
  dropped: { bytes: number; headEndSeq: number } | null,
  limit: number,
): LogBudgetState {
  const state = emptyLogBudget();
  for (const c of stored) {
    const head = dropped ? c.seq <= dropped.headEndSeq : placeLogChunk(state, c.bytes, limit) === "head";
    if (head && !state.tailStarted) {
      state.headBytes += c.bytes;
      state.headEndSeq = c.seq;
    } else {
      state.tailStarted = true;
      state.tail.push(c);
      state.tailBytes += c.bytes;
    }
  }
  state.dropped = dropped?.bytes ?? 0;
  return state;
}
