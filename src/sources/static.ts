import { formatReference, type Reference } from '../config/references.js'
import type { SourceDefinition } from './source.js'

interface StaticOptions {
  value: Reference
  scheme: 'Bearer' | 'Basic'
}

/** A long-lived key kept in the environment, a file or the keychain. Never expires; 401-aware re-issue re-reads it. */
export const staticSource: SourceDefinition<StaticOptions> = {
  kind: 'static',
  summary: 'a fixed key from env:NAME, file:PATH or keychain:NAME',
  parse(reader) {
    const value = reader.reference('value', { required: true })
    const scheme = reader.oneOf('scheme', ['bearer', 'basic'], 'bearer')
    return { value: value ?? { kind: 'env', target: 'UNSET' }, scheme: scheme === 'basic' ? 'Basic' : 'Bearer' }
  },
  references(options) {
    return [options.value]
  },
  storedSecretName(options) {
    return options.value.kind === 'keychain' ? options.value.target : undefined
  },
  create(options) {
    return {
      kind: 'static',
      async fetch(ctx) {
        const value = await ctx.resolve(options.value, 'value')
        return { kind: 'token', value, scheme: options.scheme, meta: { reference: formatReference(options.value) } }
      },
    }
  },
}
