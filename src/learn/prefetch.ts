/*
 * Prefetching: batches for the next steps are sampled, read and augmented while the engine runs the
 * current step. One producer makes them in step order (the random draws stay sequential, so prefetching
 * never changes what a step sees); up to `depth` wait ready. The consumer's waiting time is measured:
 * it is the time the engine sits idle for lack of data.
 */

export class Prefetcher<T> {
  private readonly queue: T[] = [];
  private error: unknown = null;
  private wake: (() => void) | null = null;
  private space: (() => void) | null = null;
  private stopped = false;
  private finished = false;
  private readonly done: Promise<void>;
  /** Total milliseconds `next()` waited for a batch that was not ready. */
  waitedMs = 0;

  constructor(
    make: (index: number) => Promise<T>,
    first: number,
    last: number,
    private readonly depth: number,
  ) {
    this.done = this.run(make, first, last);
  }

  private async run(make: (index: number) => Promise<T>, first: number, last: number): Promise<void> {
    try {
      for (let i = first; i <= last && !this.stopped; i++) {
        while (this.queue.length >= this.depth && !this.stopped)
          await new Promise<void>((r) => (this.space = r));
        if (this.stopped) break;
        const item = await make(i);
        this.queue.push(item);
        this.wake?.();
      }
    } catch (e) {
      this.error = e;
    } finally {
      this.finished = true;
      this.wake?.();
    }
  }

  /** The next batch, in order. */
  async next(): Promise<T> {
    const t0 = performance.now();
    while (this.queue.length === 0) {
      if (this.error) throw this.error;
      if (this.finished) throw new Error("prefetcher: no more batches");
      await new Promise<void>((r) => (this.wake = r));
    }
    this.waitedMs += performance.now() - t0;
    const item = this.queue.shift()!;
    this.space?.();
    return item;
  }

  /** Stops producing and waits for the batch being made (its errors are ignored: nobody needs it). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.space?.();
    await this.done;
  }
}
