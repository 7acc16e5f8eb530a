/**
 * The change stream (GET /api/events/stream) as an async iterator of audit events. It reconnects
 * by itself after a dropped connection, sending the last event ID it saw as `Last-Event-ID`, so
 * the server resumes after it with no gap and no repeat. An event the server sends without an ID
 * (one that committed after later ones, see docs/integration.md) comes with `ordered: false`.
 */
import type { paths } from './generated/api.js';
import { errorFromResponse, RosterError } from './errors.js';

/** An audit event, as GET /api/audit_events lists it. */
export type AuditEvent =
  paths['/api/audit_events']['get']['responses'][200]['content']['application/json']['data'][number];

export interface StreamedEvent {
  event: AuditEvent;
  /** False for an event sent after later ones (it carries no stream position). */
  ordered: boolean;
}

export interface EventStreamOptions {
  baseUrl: string;
  token: string;
  /** Start after this audit event ID; absent: from now on. */
  after?: number;
  /** Ends the stream. */
  signal?: AbortSignal;
  fetch?: typeof globalThis.fetch;
  /** Called when the connection drops and the stream reconnects (after `retry` ms). */
  onReconnect?: (error: unknown) => void;
  /** Called on each heartbeat or other comment line (a sign the connection is alive). */
  onComment?: (comment: string) => void;
}

/** What one SSE block (lines up to a blank line) carried. */
interface Block {
  id: string | undefined;
  event: string | undefined;
  data: string[];
}

/** Splits SSE text into the blocks it completes; returns them and the unfinished rest. */
function parseBlocks(
  text: string,
  onComment: (comment: string) => void,
  onRetry: (ms: number) => void,
): { blocks: Block[]; rest: string } {
  // A lone CR at the very end may be the first half of a CRLF: it waits for the next chunk.
  const held = text.endsWith('\r') ? '\r' : '';
  const normalized = (held === '' ? text : text.slice(0, -1)).replace(/\r\n|\r/g, '\n');
  const end = normalized.lastIndexOf('\n\n');
  if (end < 0) return { blocks: [], rest: normalized + held };
  const blocks: Block[] = [];
  for (const chunk of normalized.slice(0, end).split('\n\n')) {
    const block: Block = { id: undefined, event: undefined, data: [] };
    for (const line of chunk.split('\n')) {
      if (line === '') continue;
      if (line.startsWith(':')) {
        onComment(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') block.id = value;
      else if (field === 'event') block.event = value;
      else if (field === 'data') block.data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value));
    }
    if (block.data.length > 0) blocks.push(block);
  }
  return { blocks, rest: normalized.slice(end + 2) + held };
}

/** The audit log from `after` on, as it is written, until `signal` aborts. */
export async function* streamEvents(
  options: EventStreamOptions,
): AsyncGenerator<StreamedEvent, void, undefined> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const url = `${options.baseUrl.replace(/\/+$/, '')}/api/events/stream`;
  let lastId = options.after === undefined ? undefined : String(options.after);
  let retryMs = 1_000;
  const onComment = options.onComment ?? (() => undefined);
  // A function, not a narrowed property: the signal aborts while the loop awaits.
  const aborted = () => options.signal?.aborted === true;
  while (!aborted()) {
    try {
      const headers: Record<string, string> = {
        authorization: `Bearer ${options.token}`,
        accept: 'text/event-stream',
      };
      if (lastId !== undefined) headers['last-event-id'] = lastId;
      const response = await fetchImpl(url, {
        headers,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      // A refusal (bad token, no access, bad position) will not change by retrying.
      if (response.status >= 400 && response.status < 500) throw await errorFromResponse(response);
      if (!response.ok || response.body === null) throw await errorFromResponse(response);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const { blocks, rest } = parseBlocks(buffer, onComment, (ms) => {
          retryMs = ms;
        });
        buffer = rest;
        for (const block of blocks) {
          if (block.data.length === 0) continue;
          const event = JSON.parse(block.data.join('\n')) as AuditEvent;
          if (block.id !== undefined) lastId = block.id;
          yield { event, ordered: block.id !== undefined };
        }
      }
      throw new Error('the event stream ended');
    } catch (error) {
      if (aborted()) return;
      if (error instanceof RosterError && error.status >= 400 && error.status < 500) throw error;
      options.onReconnect?.(error);
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }
}
