/**
 * Whether this ccred is a standalone executable (one file, its runtime inside, built by
 * scripts/build-exe.mjs) or the npm package run by node. The executable's entry, generated
 * by the build, calls markStandalone before the CLI loads; the npm build never does. Root
 * file and light on purpose: the `get` path, the autostart and setup all read it.
 */
export interface StandaloneBuild {
  /** The package version, fixed at build time (there is no package.json beside the executable). */
  readonly version: string
  /** Loads the keychain binding (@napi-rs/keyring's `.node` for this target) embedded in the executable. */
  readonly loadKeyring: () => unknown
}

let standalone: StandaloneBuild | undefined

export function markStandalone(build: StandaloneBuild): void {
  standalone = build
}

/** The build's facts when running as the standalone executable, else undefined (the npm build). */
export function standaloneBuild(): StandaloneBuild | undefined {
  return standalone
}
