/**
 * The server as `npm start` runs it (the built packages/server/dist/main.js) in a process of its
 * own, for tests that restart it or read its logs. Build first (`npm test` does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const MAIN = path.resolve('packages/server/dist/main.js');
export const TOKEN = 'rst_spawned_admin_token_0123456789';

export interface Server {
  url: string;
  /** The server's process ID. */
  pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  request(
    method: string,
    requestPath: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers; ms: number }>;
  stop(): Promise<void>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Sends a signal (SIGKILL: a crash, no shutdown) and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Sends a signal and returns at once (see `exited` for the outcome). */
  signal(signal: NodeJS.Signals): void;
  /** Settles when the process exits, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startServer(
  env: Record<string, string>,
  options: {
    /** Past this a request fails (AbortSignal.timeout) instead of hanging: none by default. */
    requestTimeoutMs?: number;
  } = {},
): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      ROSTER_LOG_LEVEL: 'info',
      ROSTER_ADMIN_TOKEN: TOKEN,
      ROSTER_RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => {
      done({ code, signal });
    }),
  );
  return new Promise<Server>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start:\n${output}`));
    }, 60_000);
    const check = () => {
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolve({
        url,
        pid: child.pid ?? 0,
        exited,
        output: () => output,
        alive: () => child.exitCode === null && child.signalCode === null,
        signal(signal) {
          child.kill(signal);
        },
        async request(method, requestPath, body, headers = {}) {
          const started = Date.now();
          const response = await fetch(`${url}${requestPath}`, {
            method,
            headers: {
              authorization: `Bearer ${TOKEN}`,
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
              ...headers,
            },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal:
              options.requestTimeoutMs === undefined
                ? undefined
                : AbortSignal.timeout(options.requestTimeoutMs),
          });
          const text = await response.text();
          let parsed: unknown = undefined;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = text;
          }
          return {
            status: response.status,
            body: parsed,
            headers: response.headers,
            ms: Date.now() - started,
          };
        },
        async kill(signal) {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((done) => child.once('exit', done));
          child.kill(signal);
          await exited;
        },
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((done) => child.once('exit', done));
          child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout?.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${String(code ?? signal)}):\n${output}`));
    });
  });
}
