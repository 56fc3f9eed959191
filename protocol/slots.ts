/**
 * At most `size` holders at a time; the others wait their turn in the order they came. Not a wire contract: it lives
 * in protocol because the agent (its host's starts) and the server (the local cloud's network attaches) both bound
 * their work with it, and protocol is all the agent may import (scripts/check-boundaries.ts).
 */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  /** Resolves once a slot is ours, with the function that gives it back (once; later calls do nothing). */
  async take(): Promise<() => void> {
    if (this.used < this.size) this.used++;
    // handed over by the holder that gives its slot back: `used` stays as it is
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      if (next) next();
      else this.used--;
    };
  }
}
