/**
 * Many tool calls through the MCP gateway with the SDK's client, a few at a time over one
 * session: how the dashboard and activity tests record more tool calls than a page of the audit
 * log holds, through the public interface (each call is decided and recorded like any other).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export async function callToolMany(
  rosterUrl: string,
  featureId: number,
  token: string,
  count: number,
  concurrency = 16,
): Promise<{ forwarded: number; refused: number }> {
  const client = new Client({ name: 'tool-calls', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${rosterUrl}/mcp/${featureId}`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  const tally = { forwarded: 0, refused: 0 };
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count) }, async () => {
        while (next < count) {
          next += 1;
          const result = await client.callTool({ name: 'search', arguments: { q: 'many' } });
          if (result.isError === true) tally.refused += 1;
          else tally.forwarded += 1;
        }
      }),
    );
  } finally {
    await client.close();
  }
  return tally;
}
