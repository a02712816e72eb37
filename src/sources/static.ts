import { formatReference } from '../config/references.js'
import { map, oneOf, parseWith, reference, table, type Infer } from '../config/schema.js'
import type { SourceDefinition } from './source.js'

const staticOptions = map(
  table({
    value: reference('value', { required: true }),
    scheme: oneOf('scheme', ['bearer', 'basic'], 'bearer'),
  }),
  ({ value, scheme }) => ({ value, scheme: scheme === 'basic' ? ('Basic' as const) : ('Bearer' as const) }),
)
type StaticOptions = Infer<typeof staticOptions>

/** A long-lived key kept in the environment, a file or the keychain. Never expires; 401-aware re-issue re-reads it. */
export const staticSource: SourceDefinition<StaticOptions> = {
  kind: 'static',
  summary: 'a fixed key from env:NAME, file:PATH or keychain:NAME',
  parse(reader) {
    return parseWith(staticOptions, reader)
  },
  references(options) {
    return [options.value]
  },
  storedSecretName(options) {
    return options.value.kind === 'keychain' ? options.value.target : undefined
  },
  create(options) {
    return {
      async fetch(ctx) {
        const value = await ctx.resolve(options.value, 'value')
        return { kind: 'token', value, scheme: options.scheme, meta: { reference: formatReference(options.value) } }
      },
    }
  },
}
