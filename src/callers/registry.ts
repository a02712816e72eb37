import type { Header } from '../config/settings.js'
import { MARK_VALUE_MAX_CHARS, type CallerDecision, type CallerFacts, type CallerKind, type EnvMark, type Marks } from './caller.js'
import { claudeCode } from './claude-code.js'
import { codex } from './codex.js'
import { script } from './script.js'

/** The agents ccred tells apart, asked in this order; the first that recognises a run decides it. */
export const CALLER_KINDS: readonly CallerKind[] = [claudeCode, codex]
/** Everything else: served from the cache, never a re-issue. */
export const DEFAULT_CALLER_KIND: CallerKind = script

/** The kind that ran `ccred get`, by the request's facts. */
export function callerKindFor(facts: CallerFacts): CallerKind {
  return CALLER_KINDS.find((kind) => kind.recognises(facts)) ?? DEFAULT_CALLER_KIND
}

/** Whether the marks alone name the caller, so ancestry need not be read where a read costs a spawn. */
export function knownByMarks(facts: CallerFacts): boolean {
  return CALLER_KINDS.some((kind) => kind.knownByMarks(facts))
}

/** What the broker is told about this run's caller. */
export function decideCaller(facts: CallerFacts, profileHeader: Header): CallerDecision {
  return callerKindFor(facts).decide(facts, profileHeader)
}

/** Every environment variable some kind reads: the client sends these and no other. */
export const ENV_MARKS: ReadonlyMap<string, EnvMark['keep']> = new Map([...CALLER_KINDS, DEFAULT_CALLER_KIND].flatMap((kind) => kind.envMarks.map((mark) => [mark.name, mark.keep] as const)))

/**
 * The client's side: the declared variables of its environment, each as its kind
 * asked (a value cut short, "1" for presence, a digest), so the daemon can tell who
 * ran it. A presence mark of an empty variable is "", as the variable read empty.
 */
export function gatherMarks(env: Record<string, string | undefined>): Record<string, string> {
  const marks: Record<string, string> = {}
  for (const [name, keep] of ENV_MARKS) {
    const value = env[name]
    if (value === undefined) continue
    if (keep === 'value') marks[name] = value.slice(0, MARK_VALUE_MAX_CHARS)
    else if (keep === 'presence') marks[name] = value === '' ? '' : '1'
    else if (value !== '') marks[name] = identityDigest(value)
  }
  return marks
}

/**
 * FNV-1a, 64 bits, as 16 hex digits: tells one session's path from another's without
 * sending it. A hashed mark is an identity, never a secret (secrets are not declared at
 * all), so a fast non-cryptographic digest suffices; node:crypto would cost the warm
 * `get` a module load on every helper run.
 */
export function identityDigest(text: string): string {
  let hash = 0xcbf29ce484222325n
  for (const byte of Buffer.from(text, 'utf8')) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn
  return hash.toString(16).padStart(16, '0')
}

export type { Marks }
