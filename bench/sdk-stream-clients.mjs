/**
 * The stream clients of `npm run bench:sdk`, in their own process (so that reading the events
 * does not take CPU from the process that times the writes): opens N streams with the SDK's
 * streamEvents, counts the events they receive, and reports the count when asked.
 */
import process from 'node:process';
import { streamEvents } from '../packages/sdk/dist/index.js';

const [baseUrl, token, count] = process.argv.slice(2);
const abort = new AbortController();
let received = 0;
const consumers = Array.from({ length: Number(count) }, async () => {
  const events = streamEvents({ baseUrl, token, signal: abort.signal });
  while (!(await events.next()).done) received += 1;
});
process.on('message', async (message) => {
  if (message === 'count') {
    process.send({ received });
    return;
  }
  abort.abort();
  await Promise.allSettled(consumers);
  process.exit(0);
});
process.send({ ready: true });
