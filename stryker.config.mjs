// Mutation testing (npm run mutation; test/mutation/run.ts runs one Stryker pass per group).
// Each group mutates the modules where a silent bug costs most and runs only the tests that
// exercise them, so a mutant costs seconds on a small shared machine. CCRED_MUTATION_GROUP picks it.
import { MUTATION_GROUPS } from './test/mutation/groups.mjs'

const name = process.env.CCRED_MUTATION_GROUP ?? 'budget'
const group = MUTATION_GROUPS[name]
if (group === undefined) throw new Error(`unknown mutation group ${name}; one of ${Object.keys(MUTATION_GROUPS).join(', ')}`)

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'command',
  // The build runs once in Stryker's sandbox over the instrumented sources (every mutant is in
  // the code, switched on by __STRYKER_ACTIVE_MUTANT__, which the test sandboxes pass on to the
  // CLI and the daemon).
  buildCommand: 'npm run build',
  commandRunner: { command: `node --test --test-concurrency=1 ${group.tests.map((test) => `dist/test/${test}`).join(' ')}` },
  coverageAnalysis: 'off',
  mutate: group.mutate,
  ignorePatterns: ['dist', 'reports', 'coverage', '.stryker-tmp'],
  // Incremental: only mutants in code or tests changed since the committed result run again.
  incremental: true,
  incrementalFile: `test/mutation/incremental/${name}.json`,
  reporters: ['json', 'clear-text', 'progress'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false, reportScoreTable: true },
  // Two cores shared with others: one mutant at a time.
  concurrency: 1,
  timeoutMS: 20_000,
  timeoutFactor: 2,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
}
