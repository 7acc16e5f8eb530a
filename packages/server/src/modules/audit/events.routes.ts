/**
 * GET /api/events/stream: the audit log as Server-Sent Events (event-stream.ts). Each event is
 * `id:` its audit event ID, `event:` its action and `data:` the event in the shape of
 * GET /api/audit_events; comment lines are heartbeats. Who may read it is who may read the audit
 * log: a collaborator or API client of the workspace, never an end-user console session; each
 * sees the events its scope may see (audit-visibility.ts).
 */
import { Type } from 'typebox';
import { ID_MAX } from '@roster/contracts';
import { contextOf, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import { badRequest } from '../../lib/errors.js';
import { requireCollaboratorActor } from '../../lib/scope.js';
import { toAuditEvent } from './audit.service.js';
import type { AuditEventRow, EventStream } from './event-stream.js';
import type { AuditService } from './audit.service.js';

/** A client that reads more slowly than events come is cut off past this much unsent output. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const LastEventIdHeader = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 20 })),
});

/** The position to resume after: the Last-Event-ID header, else `?after`, else none (from now). */
function resumeAfter(header: string | undefined, after: number | undefined): number | undefined {
  if (header === undefined || header.trim() === '') return after;
  const value = header.trim();
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) > ID_MAX)
    throw badRequest('events.last_event_id', 'Last-Event-ID must be an audit event ID');
  return Number(value);
}

/**
 * An event released to every client of a workspace is the same row object for all of them: it is
 * serialized once, not once per client.
 */
const serialized = new WeakMap<AuditEventRow, string>();

export function formatEvent(row: AuditEventRow, late: boolean): string {
  let data = serialized.get(row);
  if (data === undefined) {
    data = JSON.stringify(toAuditEvent(row));
    serialized.set(row, data);
  }
  // An action is a dotted name; a newline would end the field, so it is refused here too.
  const event = row.action.replace(/[\r\n]/g, ' ');
  return `${late ? '' : `id: ${row.id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

export function registerEventRoutes(app: Api, stream: EventStream, audit: AuditService): void {
  app.get(
    '/events/stream',
    {
      schema: {
        tags: ['Audit'],
        summary: 'Stream audit events as they are written (Server-Sent Events)',
        description:
          'A `text/event-stream`: `id:` the audit event ID, `event:` its action, `data:` the event as GET /api/audit_events shows it. Resumes after `Last-Event-ID` (or `after`) with no gap and no repeat; comment lines are heartbeats. See docs/integration.md.',
        headers: LastEventIdHeader,
        ...schemaOf('streamEvents'),
      },
    },
    async (request, reply) => {
      const ctx = contextOf(request);
      requireCollaboratorActor(ctx);
      const after = resumeAfter(request.headers['last-event-id'], request.query.after);
      // Only the events the credential's scope may see, as in GET /api/audit_events.
      const visibility = await audit.visibilityFor(ctx);
      const heartbeatMs = (request.query.heartbeat_seconds ?? 15) * 1000;
      const raw = reply.raw;
      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Proxies such as nginx would otherwise buffer the stream.
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      });
      raw.write('retry: 1000\n: connected\n\n');
      let close: (() => void) | null = null;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        close?.();
        close = null;
        if (!raw.writableEnded) raw.end();
      };
      const heartbeat = setInterval(() => {
        raw.write(': heartbeat\n\n');
      }, heartbeatMs);
      heartbeat.unref();
      // The client went away (mid-event or not): its listener, timer and position go with it.
      raw.on('close', end);
      raw.on('error', end);
      close = stream.open(ctx.workspaceId, visibility, after, {
        send(row, late) {
          if (raw.writableLength > MAX_BUFFERED_BYTES) {
            request.log.warn(
              { workspaceId: ctx.workspaceId },
              'event stream client too slow; closing it (it resumes with Last-Event-ID)',
            );
            end();
            return;
          }
          raw.write(formatEvent(row, late));
        },
        fail(error) {
          request.log.error({ err: error }, 'event stream failed; closing the connection');
          end();
        },
        close: end,
      });
      // The connection may have closed before the client was added.
      if (raw.destroyed) end();
      // Hijacked: an async handler returns the reply so that Fastify sends nothing itself.
      return reply;
    },
  );
}
