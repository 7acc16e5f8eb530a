/**
 * Sign-in attempts per client IP and per email, in a sliding window kept in memory: a password
 * guesser is slowed however it spreads its attempts. Successful sign-ins clear the email's count.
 * (Per process: several instances behind a balancer each allow the limit.)
 */
import type { Clock } from '../../lib/clock.js';

export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until the key may try again, or 0 when it may now. */
  retryAfterSeconds(key: string): number {
    if (this.max <= 0) return 0;
    const recent = this.recent(key);
    if (recent.length < this.max) return 0;
    const oldest = recent[recent.length - this.max] ?? this.clock.now().getTime();
    return Math.max(1, Math.ceil((oldest + this.windowMs - this.clock.now().getTime()) / 1000));
  }

  record(key: string): void {
    if (this.max <= 0) return;
    const recent = this.recent(key);
    recent.push(this.clock.now().getTime());
    this.attempts.set(key, recent);
    // Bound the memory a flood of distinct keys can take.
    if (this.attempts.size > 100_000) this.prune();
  }

  clear(key: string): void {
    this.attempts.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.clock.now().getTime() - this.windowMs;
    return (this.attempts.get(key) ?? []).filter((at) => at > since);
  }

  private prune(): void {
    for (const key of [...this.attempts.keys()]) {
      const recent = this.recent(key);
      if (recent.length === 0) this.attempts.delete(key);
      else this.attempts.set(key, recent);
    }
  }
}
