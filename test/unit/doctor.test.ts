import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { describeCredential } from '../../src/doctor/doctor.js'

describe('doctor: describing a credential without showing it', () => {
  it('a JWT: its algorithm and iss/sub/aud; anything else is opaque', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
    const token = await new SignJWT({ team: 'eng' }).setProtectedHeader({ alg: 'ES256' }).setIssuer('ccred').setSubject('me').setAudience(['gw', 'other']).sign(key)
    const described = await describeCredential(token)
    assert.equal(described, 'JWT (ES256; iss="ccred", sub="me", aud=["gw","other"])')
    assert.ok(!described.includes(token.split('.')[2]!), 'never the signature')
    assert.equal(await describeCredential('sk-litellm-1234'), 'opaque token')
    assert.equal(await describeCredential('a.b.c'), 'opaque token', 'three dots of garbage')
  })
})
