import { readFileSync } from 'node:fs'
import { standaloneBuild } from './executable.js'

/** The package version: fixed at build time in the executable, else read once from package.json (two levels above dist/src). */
export function packageVersion(): string {
  const built = standaloneBuild()
  if (built !== undefined) return built.version
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}
