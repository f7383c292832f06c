/**
 * A circuit breaker per upstream: after `failureThreshold` consecutive failed
 * fetches the upstream is skipped for `cooldownMs`; then one probe goes
 * through, and its outcome closes the breaker or opens it again. Not-found
 * answers are answers, never failures.
 */
import { publishUpstreamHealth } from "../observability/events.ts";

export interface HealthOptions {
  /** Consecutive failures that open the breaker; 0 disables it. Default 5. */
  failureThreshold?: number;
  /** How long an open breaker skips the upstream before a probe. Default 30 s. */
  cooldownMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export type HealthState = "closed" | "open" | "half-open";

export class UpstreamHealth {
  readonly upstream: string;
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly #now: () => number;
  #state: HealthState = "closed";
  #failures = 0;
  #openedAt = 0;
  #probing = false;

  constructor(upstream: string, opts: HealthOptions = {}) {
    this.upstream = upstream;
    this.failureThreshold = opts.failureThreshold ?? 5;
    this.cooldownMs = opts.cooldownMs ?? 30_000;
    this.#now = opts.now ?? Date.now;
  }

  get state(): HealthState {
    return this.#state;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when not open). */
  retryInMs(): number {
    if (this.#state !== "open") return 0;
    return Math.max(0, this.#openedAt + this.cooldownMs - this.#now());
  }

  /**
   * May a fetch go out now? When it returns true the caller must report the
   * outcome with success(), failure() or neutral().
   */
  tryAcquire(): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open") {
      if (this.retryInMs() > 0) return false;
      this.#setState("half-open");
    }
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#probing = false;
    this.#failures = 0;
    if (this.#state !== "closed") this.#setState("closed");
  }

  failure(): void {
    this.#probing = false;
    this.#failures++;
    const threshold = this.failureThreshold;
    if (this.#state === "half-open" || (threshold > 0 && this.#failures >= threshold)) {
      this.#openedAt = this.#now();
      if (this.#state !== "open") this.#setState("open");
    }
  }

  /** The fetch ended without telling anything about the upstream (e.g. the caller cancelled). */
  neutral(): void {
    this.#probing = false;
  }

  #setState(state: HealthState): void {
    this.#state = state;
    publishUpstreamHealth({ upstream: this.upstream, state, consecutiveFailures: this.#failures });
  }
}
