/**
 * The record of every call through the MCP gateway: who (agent, end user), what (feature, tool),
 * the decision with its reasons, the upstream's status and the latency. Records are audit events
 * (`agent.tool_call`), so the audit log, its CSV export and the dashboard show them; but a call
 * must not wait for a database write (the end-user decision endpoint writes a transaction per
 * decision, which the gateway's hot path cannot pay). So `record` only appends to a buffer; a
 * timer writes the buffer in multi-row inserts every FLUSH_INTERVAL_MS (sooner once BATCH_SIZE
 * records wait), and `close` (the app's onClose, on SIGTERM/SIGINT) writes what is left.
 *
 * What a crash can lose: the records of the last FLUSH_INTERVAL_MS (plus one batch being written)
 * when the process is killed without a shutdown (SIGKILL, out of memory, power loss). A database
 * outage loses nothing until MAX_BUFFERED records wait: the batch is retried on the next tick,
 * and beyond that bound the oldest records are dropped and the drop is logged (memory is bounded).
 */
import type { Db } from '../../storage/database.js';
import { insertLogEvents, type AuditEntry } from '../audit/audit.repository.js';

export const FLUSH_INTERVAL_MS = 200;
const BATCH_SIZE = 500;
const MAX_BUFFERED = 100_000;

export interface ToolCallRecord {
  workspaceId: number;
  /** null: an interactive MCP client's call with an OAuth token (the end user's own). */
  agent: { id: number; name: string } | null;
  /** For OAuth callers: the registered OAuth client (modules/oauth). */
  client?: { id: string; name: string | null };
  endUser: { id: number; email: string | null };
  feature: { id: number; name: string };
  /** `tools/call`, `resources/read`, `prompts/get`. */
  method: string;
  /** The tool (or resource URI, or prompt) named by the call. */
  name: string;
  decision: 'allow' | 'deny' | 'require_approval';
  reasons: string[];
  approvalRequestId: number | null;
  /** `ok`, `error` (the tool's or upstream's error), `timeout`, `unreachable`, or `not_called`. */
  upstreamStatus: 'ok' | 'error' | 'timeout' | 'unreachable' | 'not_called';
  latencyMs: number;
  at: string;
}

export interface RecorderLog {
  error(details: object, message: string): void;
}

export class ToolCallRecorder {
  private buffer: ToolCallRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private log: RecorderLog | undefined;
  /** Counters for tests, benchmarks and operators. */
  readonly stats = { recorded: 0, written: 0, dropped: 0, failedFlushes: 0 };

  constructor(private readonly db: Db) {}

  useLog(log: RecorderLog): void {
    this.log = log;
  }

  /** Appends a record; never waits, never throws. */
  record(entry: ToolCallRecord): void {
    this.stats.recorded += 1;
    this.buffer.push(entry);
    if (this.buffer.length > MAX_BUFFERED) {
      const excess = this.buffer.length - MAX_BUFFERED;
      this.buffer.splice(0, excess);
      this.stats.dropped += excess;
      this.log?.error({ dropped: excess }, 'tool-call log: buffer full, oldest records dropped');
    }
    if (this.buffer.length >= BATCH_SIZE) this.schedule(0);
    else this.schedule(FLUSH_INTERVAL_MS);
  }

  /** Writes everything buffered (after a flush under way); stops at a failed write (retried later). */
  async flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.flushing !== null) await this.flushing;
    const run = async () => {
      while (this.buffer.length > 0) {
        if (!(await this.write(this.buffer.splice(0, BATCH_SIZE)))) return;
      }
    };
    this.flushing = run();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  /** Flushes and stops the timer: the app's onClose. */
  async close(): Promise<void> {
    await this.flush();
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch((error: unknown) => {
        this.log?.error({ err: error }, 'tool-call log: flush failed');
      });
    }, delayMs);
    // A pending flush does not keep the process alive; shutdown flushes through close().
    this.timer.unref();
  }

  /** Writes one batch; on failure puts it back in front and schedules a retry. */
  private async write(batch: ToolCallRecord[]): Promise<boolean> {
    try {
      await insertLogEvents(this.db, batch.map(toAuditEntry));
      this.stats.written += batch.length;
      return true;
    } catch (error) {
      this.stats.failedFlushes += 1;
      this.buffer.unshift(...batch);
      this.log?.error(
        { err: error, waiting: this.buffer.length },
        'tool-call log: write failed, retrying',
      );
      this.schedule(FLUSH_INTERVAL_MS * 5);
      return false;
    }
  }
}

/**
 * A name the caller chose (a tool, a resource URI) as the log keeps it: bounded, since a request
 * may carry one as long as the body limit (1 MB) and the log must not grow by that per call.
 */
const NAME_MAX = 500;
const storable = (text: string) => text.slice(0, NAME_MAX);

function toAuditEntry(r: ToolCallRecord): AuditEntry & { targetName: string | null } {
  return {
    workspaceId: r.workspaceId,
    // An OAuth caller's call is the end user's own: they are its actor and its target.
    actor:
      r.agent === null
        ? { type: 'end_user', id: String(r.endUser.id), name: r.endUser.email }
        : { type: 'agent', id: String(r.agent.id), name: r.agent.name },
    action: 'agent.tool_call',
    targetType: r.agent === null ? 'end_user' : 'agent',
    targetId: r.agent === null ? r.endUser.id : r.agent.id,
    targetName: r.agent === null ? r.endUser.email : r.agent.name,
    after: {
      ...(r.client === undefined
        ? {}
        : { oauth_client_id: r.client.id, oauth_client_name: r.client.name }),
      end_user_id: r.endUser.id,
      end_user_email: r.endUser.email,
      feature_id: r.feature.id,
      feature_name: r.feature.name,
      method: r.method,
      tool: storable(r.name),
      decision: r.decision,
      reasons: r.reasons,
      approval_request_id: r.approvalRequestId,
      upstream_status: r.upstreamStatus,
      latency_ms: r.latencyMs,
    },
    createdAt: r.at,
  };
}
