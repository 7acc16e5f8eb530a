/**
 * The server's Prometheus metrics (prom-client), served at /metrics (app.ts). One registry per
 * server (not prom-client's global one), so that several servers in one process (tests) keep
 * their own counts. Modules receive the narrow observer they need, never the registry.
 *
 * The hot path (access checks) only increments a pre-labelled counter and observes a
 * pre-labelled histogram: no label object, string or Date is made per check.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * What the decision service reports: one call per single check (outcome and seconds), and one
 * per batch. A batch adds each outcome's checks to the counter and observes its mean time per
 * check once per outcome: a prom-client observation hashes its labels, which would cost as much
 * as the check itself for each of a batch's 1,000 checks.
 */
export interface DecisionObserver {
  allowed(seconds: number): void;
  denied(seconds: number): void;
  failed(seconds: number): void;
  batch(allowed: number, denied: number, failed: number, secondsPerCheck: number): void;
}

/** What the webhook dispatcher reports: one call per attempt. */
export interface WebhookObserver {
  attempt(outcome: 'succeeded' | 'failed', seconds: number): void;
  disabled(): void;
}

/** Read at scrape time: values that are cheaper to ask for than to keep up to date. */
export interface ScrapeSources {
  accessIndex(): { workspaces: number; lastBuildSeconds: number; builds: number };
  /** Events in the log the feed has not applied yet, and seconds since it last synced. */
  changeFeedLag(): Promise<{ events: number; secondsSinceSync: number }>;
  webhookQueue(): Promise<{ pending: number }>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Access checks answer from memory in microseconds. */
const DECISION_BUCKETS = [
  0.000_001, 0.000_002_5, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.001, 0.01,
];

export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests = new Counter({
    name: 'roster_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'roster_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly scimOperations = new Counter({
    name: 'roster_scim_operations_total',
    help: 'SCIM 2.0 requests, by method, resource type and status',
    labelNames: ['method', 'resource', 'status'] as const,
    registers: [this.registry],
  });
  readonly decisions: DecisionObserver;
  readonly webhooks: WebhookObserver;

  constructor(sources?: ScrapeSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'roster_' });

    const decisions = new Counter({
      name: 'roster_decisions_total',
      help: 'Access checks answered, by outcome (allowed, denied, error)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
    });
    const decisionSeconds = new Histogram({
      name: 'roster_decision_duration_seconds',
      help: 'Time to answer one access check from the index, by outcome',
      labelNames: ['outcome'] as const,
      buckets: DECISION_BUCKETS,
      registers: [this.registry],
    });
    // Children made once: the hot path does not build a label set per check.
    const counted = (outcome: string) => {
      const counter = decisions.labels(outcome);
      const histogram = decisionSeconds.labels(outcome);
      return (seconds: number, checks = 1) => {
        if (checks === 0) return;
        counter.inc(checks);
        histogram.observe(seconds);
      };
    };
    const allowed = counted('allowed');
    const denied = counted('denied');
    const failed = counted('error');
    this.decisions = {
      allowed,
      denied,
      failed,
      batch: (allowedChecks, deniedChecks, failedChecks, secondsPerCheck) => {
        allowed(secondsPerCheck, allowedChecks);
        denied(secondsPerCheck, deniedChecks);
        failed(secondsPerCheck, failedChecks);
      },
    };

    const deliveries = new Counter({
      name: 'roster_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (succeeded, failed)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
    });
    const deliverySeconds = new Histogram({
      name: 'roster_webhook_delivery_duration_seconds',
      help: 'Time of one webhook delivery attempt (request sent to answer or failure)',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    const disabled = new Counter({
      name: 'roster_webhook_endpoints_disabled_total',
      help: 'Webhook endpoints disabled after failed deliveries',
      registers: [this.registry],
    });
    this.webhooks = {
      attempt(outcome, seconds) {
        deliveries.labels(outcome).inc();
        deliverySeconds.labels(outcome).observe(seconds);
      },
      disabled: () => {
        disabled.inc();
      },
    };

    if (sources === undefined) return;
    new Gauge({
      name: 'roster_access_index_workspaces',
      help: 'Workspaces held in the in-memory access index',
      registers: [this.registry],
      collect() {
        this.set(sources.accessIndex().workspaces);
      },
    });
    new Gauge({
      name: 'roster_access_index_build_seconds',
      help: 'Duration of the last full build of the access index',
      registers: [this.registry],
      collect() {
        this.set(sources.accessIndex().lastBuildSeconds);
      },
    });
    new Gauge({
      name: 'roster_access_index_full_reloads',
      help: 'Full reloads of the access index since start',
      registers: [this.registry],
      collect() {
        this.set(sources.accessIndex().builds);
      },
    });
    new Gauge({
      name: 'roster_change_feed_lag_events',
      help: 'Changes in the log (written by any instance) this instance has not applied yet',
      registers: [this.registry],
      async collect() {
        this.set((await sources.changeFeedLag()).events);
      },
    });
    new Gauge({
      name: 'roster_change_feed_seconds_since_sync',
      help: 'Seconds since this instance last read the change log',
      registers: [this.registry],
      async collect() {
        this.set((await sources.changeFeedLag()).secondsSinceSync);
      },
    });
    new Gauge({
      name: 'roster_webhook_queue_pending',
      help: 'Webhook deliveries waiting to be sent (due now or retrying later)',
      registers: [this.registry],
      async collect() {
        this.set((await sources.webhookQueue()).pending);
      },
    });
  }

  /** One answered HTTP request; `route` is the pattern (`/api/members/:id`), never the raw URL. */
  request(method: string, route: string, status: number, seconds: number): void {
    const statusText = String(status);
    this.httpRequests.labels(method, route, statusText).inc();
    this.httpDuration.labels(method, route, statusText).observe(seconds);
    if (route.startsWith('/scim/v2/')) {
      // `/scim/v2/:connection/Users/:id` → Users (the resource type is the segment after the prefix)
      const resource = /\/(Users|Groups|Schemas|ResourceTypes|ServiceProviderConfig|Bulk)\b/.exec(
        route,
      )?.[1];
      this.scimOperations.labels(method, resource ?? 'other', statusText).inc();
    }
  }
}
