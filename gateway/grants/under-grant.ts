// A call whose single-use grant may have been spent without an answer (a
// broker that died with the release in flight) is made once more under a new
// grant: each release stays audited under its own grant, and a third try
// would only repeat what just failed twice.

/**
 * `send` under a grant from `mint`, and once more under a new grant when
 * `spentWithoutAnswer(err)` says the first may have been used up.
 */
export async function underGrant<G, T>(
  mint: () => Promise<G>,
  send: (grant: G) => Promise<T>,
  spentWithoutAnswer: (err: unknown) => boolean,
): Promise<T> {
  const once = async () => send(await mint());
  try {
    return await once();
  } catch (err) {
    if (!spentWithoutAnswer(err)) throw err;
    return once();
  }
}
