/**
 * A private redis-server per test file, on a free port, which tests may stop and restart (that is
 * how broker faults are tested). The implementation moved to src/cluster/private-redis.ts so the
 * nemesis can use it too; tests keep importing TestRedis from here.
 */
export {PrivateRedis as TestRedis, freePort} from '../../src/cluster/private-redis.js'
