/**
 * Settles with `work`, or rejects with `onTimeout()` after `timeoutMs` of real
 * time (a network deadline, not the broker's injectable clock): for client
 * libraries whose own timeouts do not hold (the AWS SDK's request timeout only
 * logs a warning; gcp-metadata sets none on Google Cloud; node-vault; keytar on a
 * locked keyring). The timer is unref'd and always cleared. The work itself is not
 * cancelled: the library's socket ends when its peer or its own timeout ends it.
 */
export async function withDeadline<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs)
    timer.unref()
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}
