import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseRelayCloseRequest, parseRelayOpenRequest } from '../../src/protocol.js'
import { parseUpstream } from '../../src/relay/manager.js'

describe('relay control API: what a route may be opened with', () => {
  it('takes a profile and an upstream; name, owner pid, port and a returned key are optional', () => {
    assert.deepEqual(parseRelayOpenRequest({ profile: 'corp', upstream: 'https://gw.example/v1' }), { profile: 'corp', upstream: 'https://gw.example/v1' })
    const key = 'a'.repeat(64)
    assert.deepEqual(parseRelayOpenRequest({ profile: 'corp', upstream: 'https://gw.example', name: 'app', ownerPid: 42, port: 18555, key }), { profile: 'corp', upstream: 'https://gw.example', name: 'app', ownerPid: 42, port: 18555, key })
  })

  it('refuses a weak or malformed key, a privileged or fractional port, a route name that is a path, an unknown field', () => {
    const base = { profile: 'corp', upstream: 'https://gw.example' }
    for (const key of ['a'.repeat(31), 'A'.repeat(64), 'g'.repeat(64), 'a'.repeat(129)]) assert.throws(() => parseRelayOpenRequest({ ...base, key }), /request\.key: must be 32 to 128 lowercase hex digits/)
    for (const port of [80, 1023, 65536, 18555.5]) assert.throws(() => parseRelayOpenRequest({ ...base, port }), /request\.port: must be an integer from 1024 to 65535/)
    for (const name of ['../x', 'a/b', '', 'x'.repeat(65)]) assert.throws(() => parseRelayOpenRequest({ ...base, name }), /request\.name: uses letters/)
    assert.throws(() => parseRelayCloseRequest({ name: '../../etc' }), /request\.name: uses letters/)
    assert.throws(() => parseRelayOpenRequest({ ...base, headers: {} }), /request\.headers: unknown key/)
    assert.throws(() => parseRelayOpenRequest({ upstream: 'https://gw.example' }), /"profile"/)
  })

  it('an upstream is an http(s) base URL without credentials, query or fragment', () => {
    assert.equal(parseUpstream('https://gw.example/v1').href, 'https://gw.example/v1')
    assert.throws(() => parseUpstream('gw.example'), /not a URL/)
    assert.throws(() => parseUpstream('file:///etc/passwd'), /http:\/\/ or https:\/\//)
    assert.throws(() => parseUpstream('https://user:secret@gw.example'), (error: Error) => /must not hold credentials/.test(error.message) && !error.message.includes('secret'))
    assert.throws(() => parseUpstream('https://gw.example/?key=x'), /query or fragment/)
  })
})
