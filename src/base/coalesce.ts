/**
 * Coalesced runs of one idempotent job (rewriting a rule set from the current
 * state): one run at a time, and every request made while a run is going on
 * shares the single run queued after it. A request therefore resolves only
 * after a run that started after it, so it sees the state it asked for.
 *
 *   const sync = new Coalesced(() => applyRules());
 *   await sync.request();   // a burst of 20 requests → at most 2 runs
 */
export class Coalesced {
  private running?: Promise<void>;
  private queued?: Promise<void>;

  constructor(private readonly job: () => Promise<void>) {}

  request(): Promise<void> {
    if (this.queued) return this.queued;
    const prev = this.running ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(async () => {
      this.queued = undefined;
      this.running = next;
      try {
        await this.job();
      } finally {
        if (this.running === next) this.running = undefined;
      }
    });
    this.queued = next;
    return next;
  }

  /** Waits for the queued and running runs, whatever their outcome. */
  async settled(): Promise<void> {
    await this.queued?.catch(() => undefined);
    await this.running?.catch(() => undefined);
  }
}
