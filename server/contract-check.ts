import type { z } from "zod";

/**
 * Where an answer drifting from its catalog entry must be found (vitest, e2e, CI: `SLIPSTREAM_CHECK_ANSWERS=1`),
 * every HTTP answer and socket ack is checked against its schema before it is sent.
 */
const CHECK_ANSWERS = process.env.VITEST !== undefined || process.env.SLIPSTREAM_CHECK_ANSWERS === "1";

/** Throws naming `what` and the first field when checking is on and `answer` breaks `schema`. */
export function checkAnswer(schema: z.ZodType, answer: unknown, what: string): void {
  if (!CHECK_ANSWERS) return;
  const checked = schema.safeParse(answer);
  if (checked.success) return;
  const issue = checked.error.issues[0];
  throw new Error(`${what} breaks its contract: ${issue.path.join(".") || "body"}: ${issue.message}`);
}
