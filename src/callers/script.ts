import type { CallerKind } from './caller.js'
import { helperTerms } from './claude-code.js'

/**
 * The default: anything no agent's kind recognises — a shell script, a Makefile, CI, a
 * command an agent runs through its own shell tool, a person at a terminal. It keeps
 * the terms of the helper contract `ccred get` was made for (Claude Code's TTL
 * variables and 407 challenge, which a wrapper script or an older Claude Code still
 * passes on), but asking again is never read as a refusal: a script that calls `get`
 * before every request is served from the cache.
 */
export const script: CallerKind = {
  name: 'script',
  envMarks: [],
  recognises: () => true,
  knownByMarks: () => false,
  decide(facts, profileHeader) {
    return { ...helperTerms(facts, profileHeader), kind: 'script', hook: 'script' }
  },
}
