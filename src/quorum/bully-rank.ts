/**
 * The Bully order on replica ids: the "highest id" that wins an election. Natural order, so n10
 * outranks n9 (plain string order would not). Kept here rather than imported from the client so the
 * core depends on nothing outside src/core and src/runtime's shared types.
 */

/** Natural comparison of two ids: negative when a ranks below b. */
export function compareIds(a: string, b: string): number {
  const partsA = a.match(/\d+|\D+/g) ?? []
  const partsB = b.match(/\d+|\D+/g) ?? []
  for (let i = 0; i < Math.min(partsA.length, partsB.length); i++) {
    const x = partsA[i] as string
    const y = partsB[i] as string
    if (x === y) continue
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const a0 = x.replace(/^0+/, '')
      const b0 = y.replace(/^0+/, '')
      if (a0.length !== b0.length) return a0.length - b0.length
      if (a0 !== b0) return a0 < b0 ? -1 : 1
      return x.length - y.length
    }
    return x < y ? -1 : 1
  }
  return partsA.length - partsB.length
}

/** True when `a` outranks `b` in a Bully election (the replica handling ELECTION asks this of itself). */
export function outranks(a: string, b: string): boolean {
  return compareIds(a, b) > 0
}
