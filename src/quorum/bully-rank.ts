/**
 * The Bully order on replica ids: the "highest id" that wins an election. Natural order, so n10
 * outranks n9 (plain string order would not); the same order the client lists replicas in.
 */
import {compareNatural} from '../core/natural-order.js'

/** Natural comparison of two ids: negative when a ranks below b. */
export const compareIds = compareNatural

/** True when `a` outranks `b` in a Bully election (the replica handling ELECTION asks this of itself). */
export function outranks(a: string, b: string): boolean {
  return compareIds(a, b) > 0
}
