import { randomBytes } from 'node:crypto'
import { durationMs, parseWith, table, type Infer } from '../config/schema.js'
import type { SourceDefinition } from './source.js'

const DEFAULT_LIFETIME_MS = 10 * 60_000

const demoOptions = table({ lifetimeMs: durationMs('lifetime', { fallbackMs: DEFAULT_LIFETIME_MS, minMs: 1000 }) })
type DemoOptions = Infer<typeof demoOptions>

/**
 * A random, clearly labelled token that goes through the real daemon, cache and
 * output path, so ccred works before any real source is configured.
 */
export const demoSource: SourceDefinition<DemoOptions> = {
  kind: 'demo',
  summary: 'a random demo token (not a real credential), for trying ccred out',
  parse(reader) {
    return parseWith(demoOptions, reader)
  },
  create(options) {
    return {
      async fetch(ctx) {
        return {
          kind: 'token',
          value: `ccred-demo-${randomBytes(16).toString('hex')}`,
          expiresAt: new Date(ctx.clock.now() + options.lifetimeMs),
          meta: { note: 'demo token, not a real credential; run `ccred init` to configure real profiles' },
        }
      },
    }
  },
}
