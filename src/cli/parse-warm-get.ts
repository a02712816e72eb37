import type { GetOptions } from './get.js'

/**
 * Parses the plain forms of `get` (a profile and --refresh, --json, --header X, --format F).
 * Returns undefined for anything else, which then goes through commander.
 */
export function parseWarmGet(args: string[]): { profile: string; options: GetOptions } | undefined {
  let profile: string | undefined
  const options: GetOptions = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--refresh') options.refresh = true
    else if (arg === '--json') options.json = true
    else if (arg === '--header' && i + 1 < args.length && !args[i + 1]!.startsWith('-')) options.header = args[++i]!
    else if (arg.startsWith('--header=')) options.header = arg.slice('--header='.length)
    else if (arg === '--format' && i + 1 < args.length && !args[i + 1]!.startsWith('-')) options.format = args[++i]!
    else if (arg.startsWith('--format=')) options.format = arg.slice('--format='.length)
    else if (!arg.startsWith('-') && profile === undefined) profile = arg
    else return undefined
  }
  return profile === undefined ? undefined : { profile, options }
}
