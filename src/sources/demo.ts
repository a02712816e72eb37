import { randomBytes } from 'node:crypto'
import type { SourceDefinition } from './source.js'

interface DemoOptions {
  lifetimeMs: number
}

const DEFAULT_LIFETIME_MS = 10 * 60_000

/**
 * A random, clearly labelled token that goes through the real daemon, cache and
 * output path, so ccred works before any real source is configured.
 */
export const demoSource: SourceDefinition<DemoOptions> = {
  kind: 'demo',
  summary: 'a random demo token (not a real credential), for trying ccred out',
  parse(reader) {
    return { lifetimeMs: reader.durationMs('lifetime', { fallbackMs: DEFAULT_LIFETIME_MS, minMs: 1000 }) ?? DEFAULT_LIFETIME_MS }
  },
  create(options) {
    return {
      kind: 'demo',
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
