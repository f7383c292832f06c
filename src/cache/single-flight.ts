/**
 * Keyed single-flight: while a call for a key is running, further callers for
 * the same key join it instead of starting their own. The proxy core uses it
 * so the leader fills storage once and every waiter then reads what was
 * stored (the shared promise carries no stream, only the fill's outcome).
 */

export class SingleFlight<T> {
  readonly #inflight = new Map<string, Promise<T>>();

  /**
   * Runs `fn` unless a call for `key` is already running, in which case the
   * caller gets that call's promise. The key is free again as soon as the
   * call settles, so a later caller after a failure tries afresh.
   */
  run(key: string, fn: () => Promise<T>): { promise: Promise<T>; shared: boolean } {
    const running = this.#inflight.get(key);
    if (running !== undefined) return { promise: running, shared: true };
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(fn());
    } catch (err) {
      promise = Promise.reject(err);
    }
    const tracked = promise.finally(() => {
      if (this.#inflight.get(key) === tracked) this.#inflight.delete(key);
    });
    this.#inflight.set(key, tracked);
    return { promise: tracked, shared: false };
  }

  /** Same as run(), returning only the promise. */
  do(key: string, fn: () => Promise<T>): Promise<T> {
    return this.run(key, fn).promise;
  }

  has(key: string): boolean {
    return this.#inflight.has(key);
  }

  /** Number of calls in flight (for the in-flight fetches gauge). */
  get size(): number {
    return this.#inflight.size;
  }
}
