/**
 * Natural ordering of replica ids, so n2 sorts before n10. The one order of ids everywhere: the
 * Bully rank of the quorum core (the "highest id" is the last in it) and every listing the client
 * prints (status output, error messages), so the same cluster always prints in the same order.
 */
export function compareNatural(a: string, b: string): number {
  const partsA = a.match(/\d+|\D+/g) ?? []
  const partsB = b.match(/\d+|\D+/g) ?? []
  for (const [i, x] of partsA.entries()) {
    const y = partsB[i]
    if (y === undefined) break // b ran out of parts, all equal so far: the shorter sorts first (below)
    if (x === y) continue
    const numeric = /^\d/.test(x) && /^\d/.test(y)
    if (numeric) {
      const byValue = BigInt(x) < BigInt(y) ? -1 : BigInt(x) > BigInt(y) ? 1 : 0
      if (byValue !== 0) return byValue
      return x.length - y.length // n01 after n1: equal value, more digits
    }
    return x < y ? -1 : 1
  }
  return partsA.length - partsB.length
}

/** A sorted copy, natural order. */
export function sortNatural(ids: Iterable<string>): string[] {
  return [...ids].sort(compareNatural)
}
