/**
 * The layering floors, checked in CI by `npm run lint:deps` (part of `npm test`).
 *
 * Two graphs, so two passes over the same rules:
 * - every import, `import()` and `import type` included, for cycles: a lazy or type-only
 *   import is still a dependency, and "no folder imports one above it" holds for it too;
 * - static imports only, from cmd/, for the warm `get` path: what `ccred get` loads
 *   before its first `import()`, which is the deliberate lazy boundary.
 * Dependency-cruiser's reachability follows every edge of the graph it is given, so the
 * second pass drops dynamic imports (options.exclude.dynamic) and cruises cmd/ alone:
 *   CCRED_DEPCRUISE_GRAPH=static depcruise cmd --config .dependency-cruiser.cjs
 *   depcruise src cmd --config .dependency-cruiser.cjs
 * test/unit/layering.test.ts runs both on a fixture tree to show each rule can fail.
 */
const staticGraph = process.env.CCRED_DEPCRUISE_GRAPH === 'static'

/** What the warm path must not load: each costs tens of milliseconds on every helper run. */
const sdkPackages = [
  'jose',
  'node-vault',
  'google-auth-library',
  '@aws-sdk/[^/]+',
  '@aws/[^/]+',
  '@smithy/[^/]+',
  'openid-client',
  'commander',
  'smol-toml',
  'valibot',
  'open',
]
// Matched on the resolved path, wherever node_modules is (the fixture test cruises from a subfolder).
const sdkPath = `(^|/)node_modules/(${sdkPackages.join('|')})/`

const everyImportRules = [
  {
    name: 'no-folder-cycles',
    severity: 'error',
    comment:
      'Folders under src/ form layers: a cycle between two of them (through any chain of imports, import() included) ' +
      'means neither can be understood, tested or loaded without the other.',
    scope: 'folder',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'no-module-cycles',
    severity: 'error',
    comment:
      'No file-level cycle either (none today): ESM evaluates a cycle in an order that depends on who is imported first, ' +
      'so a value read at module load can be undefined.',
    from: { path: '^(src|cmd)/' },
    to: { circular: true },
  },
]

const staticImportRules = [
  {
    name: 'warm-get-path-no-sdk',
    severity: 'error',
    comment:
      'cmd/ and everything it imports statically (the warm `ccred get`: cli/warm-get, client/, output/format, ' +
      'config/paths, errors) run on every Claude Code helper call and are bundled into dist/cmd/ccred.cjs: ' +
      'they load no SDK. Reach one through import() behind the lazy boundary instead.',
    from: { path: '^cmd/[^/]+\\.ts$' },
    to: { path: sdkPath, reachable: true },
  },
]

// The relay (issue 25): loaded by the daemon with import() when a route opens; `ccred get` never loads it or undici.
staticImportRules.push({
  name: 'warm-get-path-no-relay',
  severity: 'error',
  comment: 'cmd/ and what it imports statically must not reach src/relay/ or undici: the daemon loads the relay lazily (src/daemon/relay-host.ts).',
  from: { path: '^cmd/[^/]+\\.ts$' },
  to: { path: '(^src/relay/|(^|/)node_modules/undici/)', reachable: true },
})

module.exports = {
  forbidden: staticGraph ? staticImportRules : everyImportRules,
  options: {
    // TypeScript sources, resolved as tsc does (`.js` specifiers naming `.ts` files).
    tsConfig: { fileName: 'tsconfig.json' },
    // A type-only import ties two folders' designs together (it counts for cycles) but vanishes
    // at compile time, so it loads nothing on the warm path.
    tsPreCompilationDeps: !staticGraph,
    doNotFollow: { path: 'node_modules' },
    ...(staticGraph ? { exclude: { dynamic: true } } : {}),
  },
}
