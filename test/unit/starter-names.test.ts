import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { STARTER_CONFIG } from '../../src/config/starter.js'
import { repoRoot } from '../helpers/claude.js'

/** Profile names the commands in `text` use, for the commands that take one. */
function commandProfiles(text: string): string[] {
  return [...text.matchAll(/ccred (?:get|set|env|exec|login|logout|jwt jwks|aws-export) ([a-z0-9][\w.-]*)/g)].map((m) => m[1]!)
}

function definedProfiles(text: string): Set<string> {
  return new Set([...text.matchAll(/^#? ?\[profiles\.([\w-]+)(?:\.[\w-]+)*\]/gm)].map((m) => m[1]!))
}

describe('names a newcomer copies must match what ccred init writes', () => {
  it('every command the starter config suggests names a profile the starter defines', () => {
    const defined = definedProfiles(STARTER_CONFIG)
    assert.ok(defined.has('litellm-jwt') && defined.has('demo'), [...defined].join(', '))
    for (const name of commandProfiles(STARTER_CONFIG)) assert.ok(defined.has(name), `the starter suggests a command for "${name}", which it does not define`)
    // `ccred jwt jwks` takes a jwt profile, not the key's name nor another profile's.
    for (const [, name] of STARTER_CONFIG.matchAll(/ccred jwt jwks ([\w.-]+)/g)) {
      const source = new RegExp(`^# \\[profiles\\.${name!.replace(/[.]/g, '\\.')}\\]\\n# source = "(\\w+)"`, 'm').exec(STARTER_CONFIG)?.[1]
      assert.equal(source, 'jwt', `the starter's "ccred jwt jwks ${name}" names a profile whose source is ${source ?? 'not defined'}`)
    }
  })

  it('the jwt pages use the jwt profile name the starter writes', () => {
    const sources = readFileSync(join(repoRoot(), 'docs', 'sources.md'), 'utf8')
    const jwt = sources.slice(sources.indexOf('## `source = "jwt"`'), sources.indexOf('### Custom gateways'))
    assert.ok(jwt.length > 0)
    const defined = definedProfiles(jwt)
    assert.deepEqual([...defined], ['litellm-jwt'])
    for (const name of commandProfiles(jwt)) assert.equal(name, 'litellm-jwt', 'a command in the jwt section names another profile')
  })
})
