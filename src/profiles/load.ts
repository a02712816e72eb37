import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { parse as parseToml, TomlError } from 'smol-toml'
import { tomlFailureReason } from '../config/toml-error.js'
import { CcredError } from '../errors.js'
import { loadSourceDefinition, SHARED_RESOURCES, SOURCE_KINDS } from '../sources/registry.js'
import type { SourceDefinition } from '../sources/source.js'
import { describe, isTable, quoteShort, TableReader } from '../config/fields.js'
import { readTrustedConfigFile } from '../config/file-trust.js'
import { headerTemplates, type HeaderTemplates } from '../config/header-templates.js'
import { isProfileName } from '../config/profile-name.js'
import { INVALID, isValid, oneOf, ProblemsRecorded, string, table, type Field, type Invalid } from '../config/schema.js'
import { SharedSettings, type SharedResource } from '../config/shared-resources.js'
import { bindSource, type ProfileSource } from './profile-source.js'
import { brokerTable, DEFAULT_BROKER, HEADERS, type BrokerSettings, type Header } from '../config/settings.js'

export interface ProfileConfig {
  name: string
  sourceKind: string
  header: Header
  /** `headers = { … }`: what `get --format headers` prints; undefined: Authorization with the scheme. */
  headers?: HeaderTemplates
  description: string | undefined
  /** Hash of the profile's table (and of the shared tables it uses): a config edit gives a new cache key. */
  hash: string
  /** Its source, bound to its options. */
  source: ProfileSource
}

/** What a config can name: the sources and the shared resources (tests add their own). */
export interface SourceCatalog {
  kinds: readonly string[]
  definition(kind: string): Promise<SourceDefinition<any> | undefined>
  resources: readonly SharedResource<any, any>[]
}

export const BUILT_IN_CATALOG: SourceCatalog = { kinds: SOURCE_KINDS, definition: loadSourceDefinition, resources: SHARED_RESOURCES }

export interface LoadedConfig {
  path: string
  /** false when no file exists and the embedded default (demo profile) is used. */
  fromFile: boolean
  broker: BrokerSettings
  /** The tables of shared resources (`[vault]`: the connection `vault:` references and vault profiles use by default). */
  shared: SharedSettings
  profiles: Map<string, ProfileConfig>
  /** Profiles whose table has errors: asking for one fails, the others keep working. */
  invalidProfiles: Map<string, CcredError>
  /** Identifies the file version; the daemon reloads when it changes. */
  stamp: string
}

/** Used when no config file exists, so `npx ccred get demo` works on a fresh machine. */
export const EMBEDDED_CONFIG = `# embedded default: no config file found (run \`ccred init\` to write one)
[profiles.demo]
source = "demo"
`

/**
 * Identifies the file version. Synchronous on purpose: the daemon checks it on
 * every request, and a stat on the thread pool costs more than the stat itself.
 */
export function configStamp(path: string): string {
  try {
    const info = statSync(path)
    return `${info.ino}:${info.size}:${info.mtimeMs}`
  } catch {
    return 'missing'
  }
}

/**
 * Reads and validates the config. A syntax error or a bad [broker] table fails
 * the whole file; a bad profile is kept aside so the others keep working.
 */
export async function loadConfig(path: string, options: { explicit: boolean; catalog?: SourceCatalog }): Promise<LoadedConfig> {
  const stamp = configStamp(path)
  let text: string
  let fromFile = true
  try {
    text = readTrustedConfigFile(path)
  } catch (error) {
    if (error instanceof CcredError) throw error // untrusted or oversized (file-trust.ts)
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && !options.explicit) {
      text = EMBEDDED_CONFIG
      fromFile = false
    } else if (code === 'ENOENT') {
      throw new CcredError('ERR_CONFIG', `config file ${path} (from CCRED_CONFIG) does not exist`, { cause: error, hint: 'fix CCRED_CONFIG, or create the file with: ccred init' })
    } else {
      throw new CcredError('ERR_CONFIG', `config file ${path} cannot be read (${code ?? 'error'})`, { cause: error, hint: `check the file's permissions: ls -l ${path}` })
    }
  }
  return parseConfig(text, fromFile ? path : '<embedded default>', { path, fromFile, stamp }, options.catalog)
}

export async function parseConfig(text: string, label: string, meta: { path: string; fromFile: boolean; stamp: string }, catalog = BUILT_IN_CATALOG): Promise<LoadedConfig> {
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = tomlFailureReason(error.message, text, error.line)
      throw new CcredError('ERR_CONFIG', `${label}:${error.line}:${error.column}: invalid TOML: ${reason}`, { cause: error, hint: `fix line ${error.line} of ${label}` })
    }
    throw error
  }
  const sharedTables = catalog.resources.map((resource) => resource.table)
  const known = ['broker', ...sharedTables, 'profiles']
  const expected = `${['broker', ...sharedTables].map((name) => `[${name}]`).join(', ')} or [profiles.NAME]`
  const problems = Object.keys(doc).filter((key) => !known.includes(key)).map((key) => `${key}: unknown top-level key (expected ${expected})`)

  const broker = readTopTable(doc.broker, 'broker', brokerTable, { ...DEFAULT_BROKER }, problems)
  const settings = new Map(catalog.resources.map((resource) => [resource, readTopTable(doc[resource.table], resource.table, resource.settings, resource.defaults(), problems)]))
  const profilesTable = doc.profiles ?? {}
  if (!isTable(profilesTable)) problems.push(`profiles: expected tables like [profiles.NAME], got ${describe(profilesTable)}`)
  if (problems.length > 0 || !isValid(broker) || [...settings.values()].some((value) => !isValid(value))) {
    throw new CcredError('ERR_CONFIG', `${label}: ${problems.join('; ')}`, { hint: `fix ${label}, then check it with: ccred profiles` })
  }
  const shared = new SharedSettings(settings)

  const profiles = new Map<string, ProfileConfig>()
  const invalidProfiles = new Map<string, CcredError>()
  for (const [name, table] of Object.entries(profilesTable as Record<string, unknown>)) {
    try {
      profiles.set(name, await readProfile(name, table, label, { shared, doc, catalog }))
    } catch (error) {
      invalidProfiles.set(name, error instanceof CcredError ? error : new CcredError('ERR_CONFIG', `${label}: profiles.${name}: ${String(error)}`, { cause: error }))
    }
  }
  return { path: meta.path, fromFile: meta.fromFile, broker, shared, profiles, invalidProfiles, stamp: meta.stamp }
}

/** A top-level table (`[broker]`, `[vault]`): its settings, `absent` when it is left out. */
function readTopTable<T>(value: unknown, name: string, field: Field<T>, absent: T, problems: string[]): T | Invalid {
  if (value === undefined) return absent
  if (!isTable(value)) {
    problems.push(`${name}: expected a table [${name}], got ${describe(value)}`)
    return INVALID
  }
  const reader = new TableReader(value, name)
  const settings = field(reader)
  reader.rejectUnknownKeys()
  problems.push(...reader.problems)
  return settings
}

/** The keys every profile has, whatever its source. */
const profileFields = table({
  header: oneOf('header', HEADERS, 'authorization'),
  description: string('description'),
  headers: headerTemplates,
})

async function readProfile(name: string, table: unknown, label: string, file: { shared: SharedSettings; doc: Record<string, unknown>; catalog: SourceCatalog }): Promise<ProfileConfig> {
  const fail = (message: string) => new CcredError('ERR_CONFIG', `${label}: profiles.${name}: ${message}`, { hint: `fix ${label}, then check it with: ccred profiles` })
  if (!isProfileName(name)) throw fail('a profile name uses letters, digits, ".", "_" and "-" (at most 64)')
  if (!isTable(table)) throw fail(`expected a table [profiles.${name}], got ${describe(table)}`)
  const { kinds } = file.catalog
  const reader = new TableReader(table, `profiles.${name}`)
  const sourceKind = string('source')(reader)
  if (sourceKind === undefined || sourceKind === INVALID) {
    throw fail(`source is required (one of ${kinds.map((k) => `"${k}"`).join(', ')})`)
  }
  const definition = await file.catalog.definition(sourceKind)
  if (definition === undefined) {
    throw fail(`source ${quoteShort(sourceKind)} is not a known source (known: ${kinds.join(', ')})`)
  }
  const common = profileFields(reader)
  let options: unknown
  try {
    options = definition.parse(reader, { settings: (resource) => file.shared.of(resource) })
  } catch (error) {
    // Invalid options: no object at all, only problems, reported below with the profile's own.
    if (!(error instanceof ProblemsRecorded)) throw error
  }
  reader.rejectUnknownKeys()
  reader.throwIfProblems(label)
  if (common === INVALID) throw new TypeError(`profiles.${name}: invalid without a recorded problem`)
  const source = bindSource(definition, options)
  // A profile that uses a shared resource (Vault) must get a new cache key when that resource's table changes.
  const usedTables = Object.fromEntries(source.sharedUses(file.shared)
    .map(({ resource }) => resource.table)
    .filter((name) => file.doc[name] !== undefined)
    .map((name) => [name, file.doc[name]]))
  const hash = hashTable(Object.keys(usedTables).length > 0 ? { profile: table, ...usedTables } : table)
  const { header, description, headers } = common
  return { name, sourceKind, header, ...(headers === undefined ? {} : { headers }), description, hash, source }
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value instanceof Date) return value.toISOString()
  if (isTable(value)) return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]))
  return value
}

function hashTable(table: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(table))).digest('hex').slice(0, 16)
}
