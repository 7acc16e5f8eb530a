/**
 * The server's Prometheus metrics (prom-client), served at /metrics (app.ts). One registry per
 * server (not prom-client's global one), so that several servers in one process (tests) keep
 * their own counts. Modules receive the narrow observer they need, never the registry.
 *
 * The hot paths (every HTTP request, every access check) record into plain numbers (`Tally`,
 * below), found once per route or outcome: no label object, string or hash is made per request.
 * prom-client validates and hashes the labels on every labelled observation, even through a
 * pre-bound child, which cost about 1 µs of the ~55 µs an HTTP check takes (docs/performance.md).
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
  type MetricValue,
} from 'prom-client';

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
  /** Times the change log was read (after a local write, a notification, the poll). */
  changeFeedReads(): number;
  /** IDs the change log skipped that the feed still watches, and how many it has read again. */
  changeFeedWatched(): { ids: number; reads: number };
  /** This instance's writes whose events were applied as recorded, and the runs that did it. */
  changeFeedOwn(): { writes: number; applies: number };
  webhookQueue(): Promise<{ pending: number }>;
  /**
   * A SQLite file with its writer thread (storage/sqlite-writer.ts): what its write lock did since
   * start. Absent on other stores, and then so are the `roster_sqlite_write_lock_*` metrics.
   */
  sqliteWriteLock?:
    | (() => { acquisitions: number; heldSeconds: number; waitSeconds: number; waiting: number })
    | undefined;
  /** The same store's checkpoint thread (storage/sqlite-checkpointer.ts). */
  sqliteCheckpoints?:
    | (() => { running: boolean; checkpoints: number; pagesCopied: number; walPages: number })
    | undefined;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Access checks answer from memory in microseconds. */
const DECISION_BUCKETS = [
  0.000_001, 0.000_002_5, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.001, 0.01,
];

/** One labelled series: how many observations, their sum, and how many fell in each bucket. */
export interface Series {
  count: number;
  sum: number;
  /** Per bucket (not cumulative); the last one is +Inf. */
  readonly buckets: Float64Array;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * A labelled histogram kept in plain numbers, and exposed through the registry in prom-client's
 * own format (a histogram, and optionally a counter of the same observations, e.g.
 * `roster_http_requests_total` next to `roster_http_request_duration_seconds`). Callers look a
 * series up once (per route, per outcome) and then `observe` it: an increment and a bucket search.
 */
class Tally {
  private readonly series = new Map<string, Series>();

  constructor(
    registry: Registry,
    private readonly histogram: { name: string; help: string },
    private readonly upperBounds: readonly number[],
    counter?: { name: string; help: string },
  ) {
    // prom-client types a registrable metric as one of its own classes; the registry reads only
    // name, help, type, aggregator, get() and reset(), which these objects have.
    registry.registerMetric(this.exposed('histogram', histogram) as unknown as Metric);
    if (counter !== undefined)
      registry.registerMetric(this.exposed('counter', counter) as unknown as Metric);
  }

  /** The series of these labels (the same object every time: keep it). */
  of(labels: Readonly<Record<string, string>>): Series {
    const key = Object.values(labels).join('\u0000');
    let found = this.series.get(key);
    if (found === undefined) {
      found = { count: 0, sum: 0, buckets: new Float64Array(this.upperBounds.length + 1), labels };
      this.series.set(key, found);
    }
    return found;
  }

  observe(series: Series, value: number, times = 1): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i += 1;
    series.buckets[i] = (series.buckets[i] as number) + times;
    series.count += times;
    series.sum += value * times;
  }

  private exposed(type: 'histogram' | 'counter', about: { name: string; help: string }) {
    return {
      name: about.name,
      help: about.help,
      type,
      aggregator: 'sum' as const,
      get: () => ({
        name: about.name,
        help: about.help,
        type,
        aggregator: 'sum' as const,
        values: type === 'counter' ? this.counterValues() : this.histogramValues(),
      }),
      reset: () => {
        for (const series of this.series.values()) {
          series.count = 0;
          series.sum = 0;
          series.buckets.fill(0);
        }
      },
    };
  }

  private counterValues(): MetricValue<string>[] {
    return [...this.series.values()].map((series) => ({
      labels: series.labels,
      value: series.count,
    }));
  }

  private histogramValues(): MetricValue<string>[] {
    const name = this.histogram.name;
    const values: MetricValue<string>[] = [];
    for (const series of this.series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((bound, i) => {
        cumulative += series.buckets[i] as number;
        values.push({
          metricName: `${name}_bucket`,
          labels: { ...series.labels, le: bound },
          value: cumulative,
        } as MetricValue<string>);
      });
      values.push(
        {
          metricName: `${name}_bucket`,
          labels: { ...series.labels, le: '+Inf' },
          value: series.count,
        } as MetricValue<string>,
        {
          metricName: `${name}_sum`,
          labels: series.labels,
          value: series.sum,
        } as MetricValue<string>,
        {
          metricName: `${name}_count`,
          labels: series.labels,
          value: series.count,
        } as MetricValue<string>,
      );
    }
    return values;
  }
}

/** Records one answered request of a route: its method, status and milliseconds. */
export type RouteRecorder = (method: string, status: number, ms: number) => void;

export class Metrics {
  readonly registry = new Registry();
  /** Requests and their latency by method, route pattern and status: one series each. */
  private readonly http = new Tally(
    this.registry,
    {
      name: 'roster_http_request_duration_seconds',
      help: 'HTTP request latency, by method, route pattern and status',
    },
    LATENCY_BUCKETS,
    {
      name: 'roster_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
    },
  );
  private readonly scimOperations = new Counter({
    name: 'roster_scim_operations_total',
    help: 'SCIM 2.0 requests, by method, resource type and status',
    labelNames: ['method', 'resource', 'status'] as const,
    registers: [this.registry],
  });
  readonly decisions: DecisionObserver;
  readonly webhooks: WebhookObserver;
  /** Requests answered below Fastify (http/lean-path.ts): a plain number, read when scraped. */
  leanAnswers = 0;

  constructor(sources?: ScrapeSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'roster_' });
    const leanAnswers = () => this.leanAnswers;
    new Counter({
      name: 'roster_http_lean_answers_total',
      help: 'HTTP requests answered below Fastify (the single access check), also counted in roster_http_requests_total',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(leanAnswers());
      },
    });

    const decisions = new Tally(
      this.registry,
      {
        name: 'roster_decision_duration_seconds',
        help: 'Time to answer one access check from the index, by outcome',
      },
      DECISION_BUCKETS,
      {
        name: 'roster_decisions_total',
        help: 'Access checks answered, by outcome (allowed, denied, error)',
      },
    );
    // Series found once: the hot path does not build a label set per check. A batch counts each
    // of its checks at the batch's mean time per check.
    const counted = (outcome: string) => {
      const series = decisions.of({ outcome });
      return (seconds: number, checks = 1) => {
        if (checks === 0) return;
        decisions.observe(series, seconds, checks);
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
      name: 'roster_change_feed_reads',
      help: 'Times this instance read the change log since start (on notifications, by the poll; its own writes apply their events without one)',
      registers: [this.registry],
      collect() {
        this.set(sources.changeFeedReads());
      },
    });
    new Gauge({
      name: 'roster_change_feed_watched_ids',
      help: 'IDs the change log skipped (on PostgreSQL: transactions not committed yet, or rolled back) that this instance still watches, for a minute',
      registers: [this.registry],
      collect() {
        this.set(sources.changeFeedWatched().ids);
      },
    });
    new Gauge({
      name: 'roster_change_feed_watched_id_reads',
      help: 'Watched IDs this instance has asked the database for since start (each ID at every read for a second, then once a second)',
      registers: [this.registry],
      collect() {
        this.set(sources.changeFeedWatched().reads);
      },
    });
    new Gauge({
      name: 'roster_change_feed_own_writes',
      help: "This instance's writes whose events were applied to the index as recorded (without reading the log) since start",
      registers: [this.registry],
      collect() {
        this.set(sources.changeFeedOwn().writes);
      },
    });
    new Gauge({
      name: 'roster_change_feed_own_applies',
      help: 'Runs that applied them: writes that commit while one runs are applied together by the next, so under load fewer than the writes',
      registers: [this.registry],
      collect() {
        this.set(sources.changeFeedOwn().applies);
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
    const writeLock = sources.sqliteWriteLock;
    if (writeLock === undefined) return;
    // SQLite runs one write at a time: rate(held) near 1 means the writes use all of the store's
    // write capacity, and they queue (wait) — the point to move to PostgreSQL.
    const totalOf = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const gaugeOf = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    totalOf(
      'roster_sqlite_write_lock_acquisitions_total',
      'SQLite write transactions and lone writes (one at a time, in arrival order)',
      () => writeLock().acquisitions,
    );
    totalOf(
      'roster_sqlite_write_lock_held_seconds_total',
      "Seconds the SQLite write lock was held: its rate is the share of the store's write capacity in use",
      () => writeLock().heldSeconds,
    );
    totalOf(
      'roster_sqlite_write_lock_wait_seconds_total',
      'Seconds writes waited for the SQLite write lock, summed over the writes',
      () => writeLock().waitSeconds,
    );
    gaugeOf(
      'roster_sqlite_write_lock_waiting',
      'Writes waiting for the SQLite write lock now',
      () => writeLock().waiting,
    );
    const checkpoints = sources.sqliteCheckpoints;
    if (checkpoints === undefined) return;
    totalOf(
      'roster_sqlite_checkpoints_total',
      'SQLite WAL checkpoints that copied pages, run by the checkpoint thread (off the writer thread)',
      () => checkpoints().checkpoints,
    );
    totalOf(
      'roster_sqlite_checkpoint_pages_total',
      'Pages the checkpoint thread copied from the SQLite WAL into the database file',
      () => checkpoints().pagesCopied,
    );
    gaugeOf(
      'roster_sqlite_wal_pages',
      "Pages in the SQLite WAL at the checkpoint thread's last checkpoint (0 before it starts)",
      () => checkpoints().walPages,
    );
  }

  /**
   * The recorder of one route (`route` is its pattern, `/api/members/:id`, never the raw URL):
   * its series are looked up by method and status on the first request of each, then reused.
   */
  route(route: string): RouteRecorder {
    const series = new Map<string, Series>();
    let last: { method: string; status: number; series: Series } | undefined;
    // `/scim/v2/:connection/Users/:id` → Users (the resource type is the segment after the prefix)
    const scimResource = route.startsWith('/scim/v2/')
      ? (/\/(Users|Groups|Schemas|ResourceTypes|ServiceProviderConfig|Bulk)\b/.exec(route)?.[1] ??
        'other')
      : undefined;
    return (method, status, ms) => {
      let found: Series;
      if (last !== undefined && last.status === status && last.method === method) {
        found = last.series;
      } else {
        const key = `${method} ${status}`;
        found = series.get(key) ?? this.http.of({ method, route, status: String(status) });
        series.set(key, found);
        last = { method, status, series: found };
      }
      this.http.observe(found, ms / 1000);
      if (scimResource !== undefined)
        this.scimOperations.labels(method, scimResource, String(status)).inc();
    };
  }

  private readonly recorders = new Map<string, RouteRecorder>();

  /** One answered HTTP request of a route that keeps no recorder of its own (`unmatched`). */
  request(method: string, route: string, status: number, ms: number): void {
    let record = this.recorders.get(route);
    if (record === undefined) {
      record = this.route(route);
      this.recorders.set(route, record);
    }
    record(method, status, ms);
  }
}
