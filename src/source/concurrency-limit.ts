/**
 * A small FIFO semaphore: at most `max` upstream fetches run at once, the
 * rest wait their turn (or give up when their AbortSignal fires).
 */
import { GoarkError, UpstreamError } from "../errors.ts";

export type Release = () => void;

export class ConcurrencyLimit {
  readonly max: number;
  #active = 0;
  readonly #waiters: { grant: (release: Release) => void }[] = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new GoarkError("CONFIG", `concurrency limit ${max} is invalid; it must be a positive integer`);
    }
    this.max = max;
  }

  /** Fetches running now. */
  get active(): number {
    return this.#active;
  }

  /** Fetches waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with a release function once a slot is free; the release is idempotent. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.#active < this.max) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter = {
        grant: (release: Release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(abortError(signal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiters.shift();
      // The slot passes straight to the next waiter, so #active stays the same.
      if (next !== undefined) next.grant(this.#releaser());
      else this.#active--;
    };
  }
}

function abortError(signal: AbortSignal | undefined): GoarkError {
  const reason: unknown = signal?.reason;
  if (reason instanceof GoarkError) return reason;
  return new UpstreamError("upstream fetch cancelled while waiting for a free connection slot", {
    cause: reason,
  });
}
