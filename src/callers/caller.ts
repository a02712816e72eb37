/**
 * The caller contract: who ran `ccred get` (Claude Code, Codex, a plain script) and
 * what that means for the broker. One kind per agent, each in its own file; the
 * registry (registry.ts) picks the kind from the request's facts and hands the
 * broker a decision, so the broker never learns an agent's name, hook or variable.
 *
 * Light on purpose: the client imports the registry on the warm `get` path to learn
 * which environment variables to send. Process ancestry (ancestry.ts) is read by the
 * service only and reaches the kinds as plain facts.
 */
import type { Header } from '../config/settings.js'

/**
 * An environment variable a caller kind reads from `ccred get`'s environment, and how
 * much of it leaves the client: `value` (cut to MARK_VALUE_MAX_CHARS), `presence`
 * ("1" when set, for variables whose value is not needed), or `hash` (a digest that
 * tells one session from another without the value, for a path or name that
 * identifies a session). A secret is never declared: Claude Code's messaging token,
 * for one, stays in the client.
 */
export interface EnvMark {
  name: string
  keep: 'value' | 'presence' | 'hash'
}

/** A value mark is cut to this: enough for a version string, a server name or a path. */
export const MARK_VALUE_MAX_CHARS = 100

/** The environment marks of one request, by variable name (as the client gathered them). */
export type Marks = Readonly<Record<string, string>>

/** A process as the ancestry readers name it: its pid and program name, never its arguments. */
export interface CallerProcess {
  pid: number
  command: string
}

/** What the daemon knows about one request's caller. */
export interface CallerFacts {
  marks: Marks
  /** `get --format headers`: a header hook (MCP or OTel), not a token hook. */
  headerSet: boolean
  /** The client's stdin is a terminal: a person typing, whose second ask is never a 401. */
  interactive: boolean
  /** The client's direct parent pid, known on every platform (a shell for hooks run through one). */
  parentPid?: number
  /** The client's direct parent, named, where the platform's ancestry reader can say. */
  parent?: CallerProcess
  /** The nearest ancestor that is not a shell or wrapper (ancestry.ts): the program that ran the hook. */
  process?: CallerProcess
  /** How long the command said its caller keeps the value (`aws-export`, doctor); absent: the kind decides. */
  statedTtlMs?: number
  /** What the command said about the held value; absent: the kind decides (or cannot say). */
  statedRejected?: boolean
}

/** What the broker is told about a caller: who holds the value, how long, and how to read a quick repeat. */
export interface CallerDecision {
  /** The kind that decided (`claude-code`, `codex`, `script`): for tests and messages, never read by the broker. */
  kind: string
  /** The hook that ran, in the agent's own words (`apiKeyHelper`, `provider auth`…); `script` for a script. */
  hook: string
  /** Who holds the value (one process, and one connection inside it when it has several): a re-run is recognised by it. */
  callerKey?: string
  /** How long the caller keeps using the value: it must outlive this plus the skew. */
  callerTtlMs: number
  /** The caller says the held value was refused (true) or not (false); undefined: it cannot say. */
  rejected?: boolean
  /**
   * Set when this caller asking again within `withinMs` of being given a value means
   * the value was refused (an agent re-runs its helper at once after a 401). Unset:
   * a repeat is served from the cache.
   */
  reissueOnQuickRepeat?: { withinMs: number }
  /** What to change when the credentials live too short for `callerTtlMs` (the largest safe TTL given). */
  shortLifetimeAdvice: (safeTtlMs: number) => string
}

/** One agent (or the plain-script default): how it is recognised and what its runs mean. */
export interface CallerKind {
  readonly name: string
  /** The environment variables this kind reads; the client sends them, and no others. */
  readonly envMarks: readonly EnvMark[]
  /** Whether the facts say this kind ran `ccred get`. */
  recognises(facts: CallerFacts): boolean
  /**
   * Whether the environment marks alone say this kind ran the client and name who
   * holds the value, so process ancestry need not be read where reading it costs a
   * spawn (macOS's `ps`). Only for marks an agent sets on its own hook runs and never
   * passes on to the commands it runs.
   */
  knownByMarks(facts: CallerFacts): boolean
  /** The decision for a run this kind recognised; `profileHeader` is the header the profile is set up for. */
  decide(facts: CallerFacts, profileHeader: Header): CallerDecision
}

/** Who holds the value: a process (by pid), or a session identity where no pid names it; plus the connection inside it. */
export function holderKey(holder: string | undefined, connection?: string): string | undefined {
  if (holder === undefined) return undefined
  return connection === undefined ? holder : `${holder} ${connection}`
}

/** Programs that stand between an agent and its helper without being the caller. */
const PASS_THROUGH = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'tcsh', 'csh', 'busybox', 'env', 'timeout', 'nice', 'nohup'])

/** Whether a program only passes a hook on (a shell, `env`, `timeout`…): the caller is further up. */
export function isPassThrough(command: string): boolean {
  return PASS_THROUGH.has(command)
}
