/**
 * What may name a profile. Its own small module because the daemon's request
 * parser (src/protocol.ts, on the warm `get` path) checks names before any
 * lookup and must not load the config parser to do so.
 */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/** Whether `name` can name a profile at all (the daemon refuses others before any lookup). */
export function isProfileName(name: string): boolean {
  return PROFILE_NAME.test(name)
}
