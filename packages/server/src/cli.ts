#!/usr/bin/env node
/**
 * `roster`, the command line (docs/integration.md#cli). Two kinds of commands:
 *
 * - on the configured database, with the server's own configuration (config.ts: the same
 *   environment variables): `serve`, `migrate`, `admin create`, `clients create|rotate`, `backup`;
 * - against a running server over HTTP (`--url`/`--token` or ROSTER_URL/ROSTER_TOKEN): `export`
 *   and `apply`, so that a workspace's configuration can live in a file under version control.
 *
 * Exit codes: 0 done, 1 failed (the reason on standard error), 2 a usage error.
 * Results go to standard output (a token, the exported document), explanations to standard error,
 * so `roster clients create … > token` and `roster export > workspace.json` keep only the result.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { Value } from 'typebox/value';
import {
  PASSWORD_MIN_LENGTH,
  WorkspaceDocument,
  type ApplyWorkspaceResponse,
  type PlanStep,
} from '@roster/contracts';
import { loadConfig, type Config } from './config.js';
import type { Store } from './storage/connect.js';
import { AppError } from './lib/errors.js';
import { systemClock } from './lib/clock.js';
import type { RequestContext } from './lib/context.js';

// The server's modules (Fastify, Kysely, the drivers) are loaded by the commands that use them:
// `export`, `apply` and `--help` start without them.
const storage = () => import('./storage/connect.js');
const application = () => import('./app.js');
const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

/** A failure the user can act on: its message is printed as is, without a stack. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const say = (line: string) => process.stderr.write(`${line}\n`);

const CLI_ACTOR = { type: 'system', id: 'cli', name: 'roster CLI' } as const;

/** Opens the configured database, migrated, and runs `work` on it; the store is closed after. */
async function withStore<T>(work: (store: Store, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const { migrateToLatest, openStore } = await storage();
  const store = openStore({
    url: config.databaseUrl,
    poolSize: 2,
    sqliteWriter: config.sqliteWriter,
    postgresDriver: config.postgresDriver,
  });
  try {
    await migrateToLatest(store);
    const result = await work(store, config);
    // Servers running on the same PostgreSQL database hear of what the command wrote now rather
    // than at their next poll (their LISTEN connection; nothing on SQLite). A read-only command
    // costs them one read of the change log.
    const { announceChanges } = await import('./modules/audit/change-feed.js');
    await announceChanges(store.db, store.dialect).catch((error: unknown) => {
      say(
        `Warning: could not notify running servers (${error instanceof Error ? error.message : String(error)}); they will see the change at their next poll.`,
      );
    });
    return result;
  } finally {
    await store.close();
  }
}

/** The workspace a command acts on: `--workspace`, else the first (the default workspace). */
async function workspaceContext(
  store: Store,
  workspace: string | undefined,
): Promise<RequestContext> {
  const { listWorkspaces } = await import('./modules/workspaces/workspaces.repository.js');
  const { listEnvironments } = await import('./modules/environments/environments.repository.js');
  const workspaces = await listWorkspaces(store.db);
  const chosen =
    workspace === undefined
      ? workspaces[0]
      : workspaces.find((w) => String(w.id) === workspace || w.name === workspace);
  if (chosen === undefined) {
    throw new CliError(
      workspace === undefined
        ? 'The database has no workspace yet: start the server once (roster serve) to create the default workspace.'
        : `Workspace ${workspace} not found (give its ID or name).`,
    );
  }
  const environments = await listEnvironments(store.db, chosen.id);
  return {
    workspaceId: chosen.id,
    actor: CLI_ACTOR,
    // The operator of the database holds the whole workspace.
    scope: { environmentTypes: new Set(environments.map((env) => env.type)), projectIds: null },
  };
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function projectIds(value: string): number[] {
  return list(value).map((item) => {
    if (!/^[0-9]{1,10}$/.test(item))
      throw new CliError(`--projects takes project IDs, got "${item}"`, 2);
    return Number(item);
  });
}

/** The server of `export` and `apply`: options first, then ROSTER_URL / ROSTER_TOKEN. */
function remote(options: { url?: string; token?: string }): { url: string; token: string } {
  const url = options.url ?? process.env.ROSTER_URL;
  const token = options.token ?? process.env.ROSTER_TOKEN;
  if (url === undefined || url === '')
    throw new CliError('Give the server with --url or ROSTER_URL (e.g. http://127.0.0.1:8080).', 2);
  if (token === undefined || token === '')
    throw new CliError('Give an API token with --token or ROSTER_TOKEN.', 2);
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url must be an absolute URL, got "${url}"`, 2);
  }
  return { url: url.replace(/\/+$/, ''), token };
}

async function call(
  server: { url: string; token: string },
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new CliError(`Cannot reach ${server.url}: ${cause}`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const errors = (parsed as { errors?: { title?: string }[] } | undefined)?.errors;
    const title =
      errors?.map((e) => e.title).join('; ') ?? (text.slice(0, 500) || response.statusText);
    throw new CliError(`The server refused (${response.status}): ${title}`);
  }
  return parsed;
}

/** Reads and checks a workspace document; every problem names its place in the file. */
function readDocument(file: string): WorkspaceDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `Cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const problems = Value.Errors(WorkspaceDocument, document)
    // typebox reports an unknown property twice: once as a false schema, once by name.
    .filter((issue) => issue.keyword !== 'boolean')
    .map((issue) => {
      const where = issue.instancePath === '' ? '(the document)' : issue.instancePath;
      const extra =
        issue.keyword === 'additionalProperties' && Array.isArray(issue.params.additionalProperties)
          ? `: ${(issue.params.additionalProperties as unknown[]).map(String).join(', ')}`
          : '';
      return `${where} ${issue.message}${extra}`;
    });
  if (problems.length > 0) {
    const shown = [...new Set(problems)].slice(0, 10);
    throw new CliError(
      `${file} is not a valid workspace document (nothing was applied):\n  ${shown.join('\n  ')}`,
    );
  }
  return document as WorkspaceDocument;
}

function describePlan(result: ApplyWorkspaceResponse['data']): string {
  const width = Math.max(0, ...result.steps.map((step: PlanStep) => step.kind.length));
  const lines = result.steps.map(
    (step) => `  ${step.action.padEnd(6)} ${step.kind.padEnd(width)}  ${step.name}`,
  );
  const totals = Object.entries(result.summary).map(
    ([kind, counts]) =>
      `${kind}: ${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete`,
  );
  const outcome =
    result.steps.length === 0
      ? 'Nothing to change: the workspace matches the document.'
      : result.dry_run
        ? `Dry run: ${result.steps.length} change(s) planned, nothing applied.`
        : `Applied ${result.steps.length} change(s) in one transaction.`;
  return [
    ...(lines.length > 0 ? ['Plan:', ...lines, ...totals.map((t) => `  ${t}`)] : []),
    outcome,
  ].join('\n');
}

export function program(): Command {
  const roster = new Command('roster')
    .description('Roster: access control for workspace platforms')
    .showHelpAfterError()
    .exitOverride();

  roster
    .command('serve')
    .description('Start the server (configured by environment variables, see README.md)')
    .action(async () => {
      // main.ts starts the server when it is loaded, as `node dist/main.js` does.
      await import('./main.js');
    });

  roster
    .command('migrate')
    .description('Run the database migrations and exit')
    .action(async () => {
      await withStore((store, config) => {
        say(`Database migrated (${store.dialect}: ${describeDatabase(config.databaseUrl)}).`);
        return Promise.resolve();
      });
    });

  const admin = roster.command('admin').description('Console administrators');
  admin
    .command('create')
    .description(
      'Create a console admin (Admin in every environment) on the database; an existing collaborator with the email is promoted',
    )
    .requiredOption('--email <email>', 'their email, to sign in with')
    .option('--name <name>', 'their name (default: the part of the email before @)')
    .option(
      '--password <password>',
      `their password (${PASSWORD_MIN_LENGTH}+ characters; visible in the process list, prefer --password-stdin)`,
    )
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--workspace <id>', 'workspace ID or name (default: the default workspace)')
    .action(
      async (options: {
        email: string;
        name?: string;
        password?: string;
        passwordStdin?: boolean;
        workspace?: string;
      }) => {
        const email = options.email.trim();
        if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254)
          throw new CliError(`--email must be an email address, got "${options.email}"`, 2);
        const password = options.passwordStdin === true ? await firstLine() : options.password;
        if (password === undefined)
          throw new CliError('Give the password with --password-stdin or --password.', 2);
        if (password.length < PASSWORD_MIN_LENGTH || password.length > 200)
          throw new CliError(`The password must have ${PASSWORD_MIN_LENGTH} to 200 characters.`, 2);
        const name = (options.name ?? email.split('@')[0] ?? email).trim();
        if (name === '' || name.length > 200)
          throw new CliError('--name must have 1 to 200 characters.', 2);
        await withStore(async (store, config) => {
          const ctx = await workspaceContext(store, options.workspace);
          const services = (await application()).createServices({ store, config });
          const { createConsoleService } = await import('./modules/console/console.service.js');
          const consoleService = createConsoleService({
            db: store.db,
            clock: systemClock,
            config: config.console,
            apiClients: services.apiClients,
            invitations: services.invitations,
            mailDelivery: services.mailer.delivery,
          });
          const member = await consoleService.createAdmin(
            ctx.workspaceId,
            { name, email, password },
            CLI_ACTOR,
          );
          say(
            `Console admin ${member.email} (collaborator ${member.id}) may now sign in to workspace ${ctx.workspaceId}.`,
          );
        });
      },
    );

  const clients = roster.command('clients').description('API clients (bearer tokens)');
  clients
    .command('create')
    .description('Create an API client; its token is printed once on standard output')
    .requiredOption('--name <name>', 'what the client is for')
    .option('--environments <types>', 'comma-separated environment types (default: all)', list)
    .option('--projects <ids>', 'comma-separated project IDs (default: every project)', projectIds)
    .option('--workspace <id>', 'workspace ID or name (default: the default workspace)')
    .action(
      async (options: {
        name: string;
        environments?: string[];
        projects?: number[];
        workspace?: string;
      }) => {
        const name = options.name.trim();
        if (name === '' || name.length > 200)
          throw new CliError('--name must have 1 to 200 characters.', 2);
        await withStore(async (store, config) => {
          const ctx = await workspaceContext(store, options.workspace);
          const services = (await application()).createServices({ store, config });
          const client = await services.apiClients.createClient(ctx, {
            name,
            ...(options.environments === undefined
              ? {}
              : { environment_types: options.environments }),
            ...(options.projects === undefined ? {} : { project_ids: options.projects }),
          });
          say(
            `API client ${client.id} "${client.name}" created (environments: ${client.environment_types.join(', ')}; projects: ${client.project_ids === null ? 'all' : client.project_ids.join(', ')}). Its token is shown this once:`,
          );
          process.stdout.write(`${client.token}\n`);
        });
      },
    );
  clients
    .command('rotate')
    .description(
      'Give an API client a new token (printed once on standard output); the old one stops working',
    )
    .argument('<id>', 'the API client ID')
    .option('--workspace <id>', 'workspace ID or name (default: the default workspace)')
    .action(async (id: string, options: { workspace?: string }) => {
      if (!/^[0-9]{1,10}$/.test(id))
        throw new CliError(`The API client ID must be a number, got "${id}"`, 2);
      await withStore(async (store, config) => {
        const ctx = await workspaceContext(store, options.workspace);
        const services = (await application()).createServices({ store, config });
        const client = await services.apiClients.rotateClient(ctx, Number(id));
        say(`API client ${client.id} "${client.name}" has a new token, shown this once:`);
        process.stdout.write(`${client.token}\n`);
      });
    });

  roster
    .command('backup')
    .description(
      'Copy the SQLite database to <file> while the server runs (SQLite online backup). On PostgreSQL, use pg_dump (docs/operations.md)',
    )
    .argument('<file>', 'where to write the copy (must not exist)')
    .action(async (file: string) => {
      const config = loadConfig();
      if (isPostgresUrl(config.databaseUrl)) {
        throw new CliError(
          `roster backup copies a SQLite database; this one is PostgreSQL. Back it up with pg_dump, e.g.:\n  pg_dump --format=custom --file=roster.dump "$ROSTER_DATABASE_URL"\nand restore with pg_restore (docs/operations.md#backup-and-restore).`,
        );
      }
      if (!existsSync(config.databaseUrl))
        throw new CliError(
          `No database at ${config.databaseUrl} (set ROSTER_DATA_DIR or ROSTER_DATABASE_URL).`,
        );
      if (existsSync(file)) throw new CliError(`${file} already exists: give a new file name.`);
      const { default: SQLite } = await import('better-sqlite3');
      const database = new SQLite(config.databaseUrl, { fileMustExist: true });
      try {
        // The busy timeout lets the copy wait out a writer's lock instead of failing at once.
        database.pragma('busy_timeout = 5000');
        const progress = await database.backup(file);
        say(`Backed up ${config.databaseUrl} to ${file} (${progress.totalPages} pages).`);
      } finally {
        database.close();
      }
    });

  const serverOptions = (command: Command) =>
    command
      .option('--url <url>', 'the server (default: ROSTER_URL)')
      .option('--token <token>', 'an API token with full workspace access (default: ROSTER_TOKEN)');

  serverOptions(
    roster
      .command('export')
      .description(
        "Print the workspace's configuration (roles, groups, projects, grants, end-user groups, features, policies) as JSON",
      ),
  ).action(async (options: { url?: string; token?: string }) => {
    const response = (await call(remote(options), 'GET', '/api/workspace/export')) as {
      data: unknown;
    };
    process.stdout.write(`${JSON.stringify(response.data, null, 2)}\n`);
  });

  serverOptions(
    roster
      .command('apply')
      .description(
        'Make the workspace match a document: show the plan and apply it in one transaction (what the document leaves out is deleted, built-in objects excepted)',
      )
      .argument('<file>', 'a workspace document, as `roster export` writes it')
      .option('--dry-run', 'show the plan, change nothing')
      .option('--json', 'print the plan as JSON on standard output'),
  ).action(
    async (
      file: string,
      options: { url?: string; token?: string; dryRun?: boolean; json?: boolean },
    ) => {
      const server = remote(options);
      const document = readDocument(file);
      const response = (await call(
        server,
        'POST',
        `/api/workspace/apply${options.dryRun === true ? '?dry_run=true' : ''}`,
        document,
      )) as ApplyWorkspaceResponse;
      if (options.json === true)
        process.stdout.write(`${JSON.stringify(response.data, null, 2)}\n`);
      else process.stdout.write(`${describePlan(response.data)}\n`);
    },
  );

  return roster;
}

/** The first line of standard input, without its line break. */
async function firstLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** A database URL without its password, for messages. */
function describeDatabase(url: string): string {
  if (!isPostgresUrl(url)) return url;
  try {
    const parsed = new URL(url);
    parsed.password = parsed.password === '' ? '' : '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

async function run(argv: readonly string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were printed by commander.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (error instanceof CliError) {
      say(`roster: ${error.message}`);
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof AppError) {
      say(`roster: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    say(`roster: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && error.cause instanceof Error)
      say(`  cause: ${error.cause.message}`);
    process.exitCode = 1;
  }
}

await run(process.argv);
