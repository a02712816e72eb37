// Plays other parties at the test IdP with plain RFC requests: an admin revoking a
// refresh token (RFC 7009 §2.1) and a client trying one (RFC 6749 §6).
export async function revokeAtProvider(issuer: string, clientId: string, refreshToken: string): Promise<void> {
  const response = await fetch(`${issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: clientId }),
  })
  if (response.status !== 200) throw new Error(`revocation answered ${response.status}: ${await response.text()}`)
}

/** The OAuth error of a refresh with this token, or "ok". */
export async function refreshAtProvider(issuer: string, clientId: string, refreshToken: string): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  })
  const body = (await response.json()) as { error?: string }
  return body.error ?? 'ok'
}
