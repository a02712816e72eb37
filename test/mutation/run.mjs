// npm run mutation [-- group...] [--changed-since <git ref>]
//
// Runs Stryker once per group (test/mutation/groups.mjs), each mutant judged only by its group's
// tests, then writes reports/mutation/summary.md: the score per group and every surviving mutant.
// --changed-since REF mutates only the files of each group changed since REF (for CI); with
// Stryker's incremental files (test/mutation/incremental/) unchanged mutants are not run again.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { MUTATION_GROUPS } from './groups.mjs'

const args = process.argv.slice(2)
const sinceAt = args.indexOf('--changed-since')
const since = sinceAt === -1 ? undefined : args[sinceAt + 1]
const names = args.filter((arg, i) => !arg.startsWith('--') && (sinceAt === -1 || i !== sinceAt + 1))
const groups = names.length > 0 ? names : Object.keys(MUTATION_GROUPS).filter((name) => name !== 'budget')
for (const name of groups) if (MUTATION_GROUPS[name] === undefined) throw new Error(`unknown group ${name}`)

/** Files changed since `ref` that a group's globs select (negated globs exclude). */
function changedFiles(ref, globs) {
  const changed = execFileSync('git', ['diff', '--name-only', `${ref}...HEAD`], { encoding: 'utf8' }).split('\n').filter(Boolean)
  const matches = (file, glob) => path.matchesGlob(file, glob)
  return changed.filter((file) => globs.some((g) => !g.startsWith('!') && matches(file, g)) && !globs.some((g) => g.startsWith('!') && matches(file, g.slice(1))))
}
const path = await import('node:path')

const results = []
for (const name of groups) {
  const group = MUTATION_GROUPS[name]
  let mutate = group.mutate
  if (since !== undefined) {
    mutate = changedFiles(since, group.mutate)
    if (mutate.length === 0) {
      console.error(`mutation: ${name}: nothing changed since ${since}`)
      continue
    }
  }
  const startedMs = Date.now()
  const run = spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs', '--mutate', mutate.join(',')], { stdio: 'inherit', env: { ...process.env, CCRED_MUTATION_GROUP: name } })
  const seconds = Math.round((Date.now() - startedMs) / 1000)
  const reportPath = `reports/mutation/${name}.json`
  if (run.status !== 0 || !existsSync(reportPath)) {
    results.push({ name, seconds, error: `stryker exited ${run.status}` })
    continue
  }
  results.push({ name, seconds, ...summarize(JSON.parse(readFileSync(reportPath, 'utf8'))) })
}

/** Score as Stryker counts it: (killed + timeout) / (killed + timeout + survived + no coverage). */
function summarize(report) {
  const counts = {}
  const survivors = []
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const mutant of mutants) {
      counts[mutant.status] = (counts[mutant.status] ?? 0) + 1
      if (mutant.status === 'Survived' || mutant.status === 'NoCoverage') {
        survivors.push(`${file}:${mutant.location.start.line}:${mutant.location.start.column} ${mutant.mutatorName}${mutant.replacement === undefined ? '' : ` → ${JSON.stringify(mutant.replacement).slice(0, 80)}`} (${mutant.status})`)
      }
    }
  }
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0)
  const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0)
  return { counts, survivors, score: valid === 0 ? 100 : (100 * detected) / valid }
}

mkdirSync('reports/mutation', { recursive: true })
const lines = ['# Mutation testing summary', '', '| group | score | mutants | time |', '| --- | --- | --- | --- |']
for (const r of results) lines.push(r.error !== undefined ? `| ${r.name} | ${r.error} | | ${r.seconds} s |` : `| ${r.name} | ${r.score.toFixed(1)} % | ${JSON.stringify(r.counts)} | ${r.seconds} s |`)
for (const r of results) {
  if (r.survivors === undefined || r.survivors.length === 0) continue
  lines.push('', `## Surviving mutants: ${r.name}`, '', ...r.survivors.map((s) => `- ${s}`))
}
writeFileSync('reports/mutation/summary.md', `${lines.join('\n')}\n`)
console.error(lines.join('\n'))
process.exitCode = results.some((r) => r.error !== undefined) ? 1 : 0
