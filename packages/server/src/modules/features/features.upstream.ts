/**
 * The upstream MCP server of an `mcp_server` feature: where the gateway (modules/gateway) forwards
 * the feature's calls, with the headers the upstream needs (typically its own credential). Header
 * values are sealed with the server's secret key (lib/secret-box.ts), bound to the workspace,
 * feature and header name, so a value copied to another row does not open; the API only ever
 * shows the header names.
 */
import type { FeatureUpstream, FeatureUpstreamBody } from '@roster/contracts';
import type { Row } from '../../storage/database.js';
import { fromJson, toJson } from '../../storage/json.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { badRequest } from '../../lib/errors.js';

/**
 * Headers the gateway itself sets on every upstream request (the MCP transport's own, and the
 * HTTP framing): configuring them would break the protocol, so they are refused.
 */
const RESERVED_HEADERS = new Set([
  'accept',
  'connection',
  'content-length',
  'content-type',
  'host',
  'last-event-id',
  'mcp-protocol-version',
  'mcp-session-id',
  'transfer-encoding',
]);

const sealContext = (workspaceId: number, featureId: number, header: string) =>
  `workspace:${String(workspaceId)}:feature:${String(featureId)}:header:${header}`;

/** The upstream as the API shows it. */
export function toFeatureUpstream(row: Row<'feature_upstreams'>): FeatureUpstream {
  return {
    url: row.url,
    header_names: Object.keys(fromJson<Record<string, string>>(row.headers_encrypted)),
  };
}

/** A URL the gateway can reach: http(s) with a host, no credentials in it (they go in headers). */
export function checkUpstreamUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest('feature.upstream_url', `The upstream URL is not a URL: ${raw}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw badRequest('feature.upstream_url', 'The upstream URL must be an http or https URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw badRequest(
      'feature.upstream_url',
      'Put the upstream’s credentials in its headers, not in the URL (the URL is shown)',
    );
  }
  return url.toString();
}

/**
 * The stored form of the headers of a feature's upstream: `given` replaces them all; omitted, the
 * `stored` ones stay (so the URL can change without the secrets being sent again).
 */
export function sealUpstreamHeaders(
  secrets: SecretBox,
  ids: { workspaceId: number; featureId: number },
  given: FeatureUpstreamBody['headers'],
  stored: string | undefined,
): string {
  if (given === undefined) return stored ?? toJson({});
  const sealed: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(given)) {
    const key = name.toLowerCase();
    if (RESERVED_HEADERS.has(key)) {
      throw badRequest(
        'feature.upstream_header',
        `The gateway sets the ${name} header itself; it cannot be configured`,
      );
    }
    if (seen.has(key)) {
      throw badRequest('feature.upstream_header', `The header ${name} is given twice`);
    }
    if (/[\r\n\0]/.test(value)) {
      throw badRequest('feature.upstream_header', `The value of header ${name} has a line break`);
    }
    seen.add(key);
    sealed[name] = secrets.seal(value, sealContext(ids.workspaceId, ids.featureId, name));
  }
  return toJson(sealed);
}

/** The header values, decrypted for the gateway's upstream requests (never for the API). */
export function openUpstreamHeaders(
  secrets: SecretBox,
  row: Row<'feature_upstreams'>,
): Record<string, string> {
  const sealed = fromJson<Record<string, string>>(row.headers_encrypted);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(sealed)) {
    headers[name] = secrets.open(value, sealContext(row.workspace_id, row.feature_id, name));
  }
  return headers;
}
