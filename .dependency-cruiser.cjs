// The import rules of the server, checked by `npm run lint` (dependency-cruiser). They are the
// layering that docs/architecture.md describes: each rule names the layer it protects, so a
// failing lint says which promise an import breaks rather than only that a file moved.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle between files means neither can be understood, tested or changed alone. Move ' +
        'what both need to a home below them, or pass a function in at composition (app.ts).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-module-cycle',
      severity: 'error',
      comment:
        'Modules (packages/server/src/modules/<module>) depend on each other one way. A cycle ' +
        'between two modules, even through different files, means a shared concept has no home ' +
        'of its own: give it a module below both.',
      scope: 'folder',
      from: { path: '^packages/server/src/modules/[^/]+/?$' },
      to: { path: '^packages/server/src/modules/[^/]+/?$', circular: true },
    },
    {
      name: 'lib-is-a-leaf',
      severity: 'error',
      comment:
        'lib/ holds helpers with no knowledge of storage, HTTP or any domain: it imports only ' +
        'other lib/ files, contracts and packages.',
      from: { path: '^packages/server/src/lib/' },
      to: {
        path: '^packages/server/src/(modules|http|storage|app|main|config)',
      },
    },
    {
      name: 'storage-knows-no-domain',
      severity: 'error',
      comment:
        'storage/ (connection, dialects, migrations, driver errors) is below every module and ' +
        'knows nothing of HTTP or of the modules that query it.',
      from: { path: '^packages/server/src/storage/' },
      to: { path: '^packages/server/src/(modules|http|app|main|config)' },
    },
    {
      name: 'http-knows-no-module',
      severity: 'error',
      comment:
        'http/ holds the cross-cutting plugins (auth, errors, JSON body, the browser shell). It ' +
        'reaches a module only through a function app.ts passes in, never by importing it.',
      from: { path: '^packages/server/src/http/' },
      to: { path: '^packages/server/src/(modules|app|main)' },
    },
    {
      name: 'modules-do-not-import-the-app',
      severity: 'error',
      comment:
        'app.ts composes the modules and main.ts starts the process; a module that imports ' +
        'either depends on the whole server.',
      from: { path: '^packages/server/src/modules/' },
      to: { path: '^packages/server/src/(app|main)\\.ts$' },
    },
    {
      name: 'contracts-stand-alone',
      severity: 'error',
      comment:
        'contracts is imported by the server, the console and clients; it imports none of them.',
      from: { path: '^packages/contracts/' },
      to: { path: '^packages/(server|console)/' },
    },
    {
      name: 'console-app-is-not-the-server',
      severity: 'error',
      comment: 'The browser console talks to the server over HTTP and shares only contracts.',
      from: { path: '^packages/console/' },
      to: { path: '^packages/server/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
