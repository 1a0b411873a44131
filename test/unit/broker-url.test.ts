/**
 * Proves that broker URLs are read as CONTRACT.md ("Broker URLs") says: `redis://` and `rediss://`
 * as before, `redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER` into a Sentinel list,
 * a master name and a login for the master only; that a URL kv cannot use is BAD_REQUEST naming the
 * accepted forms; and that no password survives redactUrl, in any form, well-formed or not.
 * How: parseBrokerUrl and redactUrl on literal URLs, and the ioredis options of a replica's
 * connection (lazy: nothing connects).
 */
import {expect} from 'chai'
import {KvError} from '../../src/core/errors.js'
import {BROKER_URL_FORMS, parseBrokerUrl, redactUrl} from '../../src/redis/broker-url.js'
import {replicaConnection} from '../../src/redis/connect.js'

function badRequest(url: string): KvError {
  try {
    parseBrokerUrl(url)
  } catch (error) {
    expect(error).to.be.instanceOf(KvError)
    expect((error as KvError).code).to.equal('BAD_REQUEST')
    return error as KvError
  }
  throw new Error(`${url} should be refused`)
}

describe('broker URLs', () => {
  it('reads redis:// and rediss:// with their login', () => {
    expect(parseBrokerUrl('redis://127.0.0.1:6379')).to.deep.equal({kind: 'redis', tls: false, login: {}})
    expect(parseBrokerUrl('rediss://kv-client:p%40ss@redis.example:6380')).to.deep.equal({
      kind: 'redis',
      tls: true,
      login: {username: 'kv-client', password: 'p@ss'},
    })
    expect(parseBrokerUrl('REDIS://:pw@h:1').login).to.deep.equal({password: 'pw'})
  })

  it('reads redis+sentinel:// into Sentinels, a master name and a login for the master', () => {
    expect(parseBrokerUrl('redis+sentinel://127.0.0.1:26379,10.0.0.2:26380,[::1]:26381,s4/kvm')).to.deep.equal({
      kind: 'sentinel',
      sentinels: [
        {host: '127.0.0.1', port: 26379},
        {host: '10.0.0.2', port: 26380},
        {host: '::1', port: 26381},
        {host: 's4', port: 26379},
      ],
      masterName: 'kvm',
      login: {},
    })
    expect(parseBrokerUrl('redis+sentinel://kv-replica:a%2Fb@h:1/kv%2Dm')).to.deep.include({masterName: 'kv-m'})
    expect(parseBrokerUrl('redis+sentinel://kv-replica:a%2Fb@h:1/kvm').login).to.deep.equal({
      username: 'kv-replica',
      password: 'a/b',
    })
    // Unencoded '@' and '/' in a password still split where the user meant.
    const odd = parseBrokerUrl('redis+sentinel://:p@s/s@h:1,h:2/kvm')
    expect(odd).to.deep.include({masterName: 'kvm', login: {password: 'p@s/s'}})
  })

  it('gives the master the login and asks the Sentinels without one', () => {
    const conn = replicaConnection('redis+sentinel://kv-replica:pw@127.0.0.1:1,127.0.0.1:2/kvm', 'test')
    try {
      const o = conn.options
      expect(o.sentinels).to.deep.equal([
        {host: '127.0.0.1', port: 1},
        {host: '127.0.0.1', port: 2},
      ])
      expect(o).to.deep.include({name: 'kvm', role: 'master', username: 'kv-replica', password: 'pw'})
      expect(o.sentinelPassword ?? null).to.equal(null)
      expect(o.enableOfflineQueue).to.equal(false)
      expect(o.autoResubscribe).to.equal(true)
      expect(typeof o.sentinelRetryStrategy).to.equal('function')
    } finally {
      conn.disconnect()
    }
  })

  it('refuses what it cannot use with BAD_REQUEST naming the accepted forms, never the password', () => {
    const cases: [string, RegExp][] = [
      ['127.0.0.1:6379', /does not start with a scheme/],
      ['redis+cluster://:pw@h:1', /redis\+cluster:\/\/ is not a broker URL/],
      ['rediss+sentinel://:pw@h:1/kvm', /rediss\+sentinel:\/\/ is not a broker URL/],
      ['redis+sentinel://:pw@h:1', /master name is missing/],
      ['redis+sentinel://:pw@h:1/', /master name is missing/],
      ['redis+sentinel://:pw@h:1/kvm?db=1', /no \?query/],
      ['redis+sentinel://:pw@h:1/k%20m', /no spaces/],
      ['redis+sentinel://pw@h:1/kvm', /the colon is missing/],
      ['redis+sentinel://:pw@h:99999/kvm', /99999 is not a TCP port/],
      ['redis+sentinel://:pw@h:1,,h:2/kvm', /"" is not HOST:PORT/],
      ['redis+sentinel://:pw@h h:1/kvm', /"h h:1" is not HOST:PORT/],
      [`redis+sentinel://:pw@${Array.from({length: 17}, (_, i) => `h${i}:1`).join(',')}/kvm`, /more than 16/],
      ['redis://:pw@', /not a well-formed URL|names no host/],
    ]
    for (const [url, why] of cases) {
      const error = badRequest(url)
      expect(error.message, url).to.match(why)
      expect(error.message, url).not.to.include(':pw@')
      for (const form of BROKER_URL_FORMS) expect(error.message, url).to.include(form)
    }
  })

  it('redacts the password of every form, keeping the user', () => {
    expect(redactUrl('redis://kv:secret@127.0.0.1:6379')).to.equal('redis://kv:***@127.0.0.1:6379')
    expect(redactUrl('redis://127.0.0.1:6379')).to.equal('redis://127.0.0.1:6379')
    expect(redactUrl('redis+sentinel://kv:secret@a:1,b:2/kvm')).to.equal('redis+sentinel://kv:***@a:1,b:2/kvm')
    expect(redactUrl('redis+sentinel://:secret@a:1/kvm')).to.equal('redis+sentinel://:***@a:1/kvm')
    expect(redactUrl('redis+sentinel://a:1,b:2/kvm')).to.equal('redis+sentinel://a:1,b:2/kvm')
    for (const url of [
      'redis+sentinel://:se@cr/et@a:1/kvm',
      'redis://:se/cr@et@a:1',
      'rediss://u:secret@[bad',
      'redis+cluster://u:secret@a:1,b:2',
      'nonsense//u:secret@x',
    ])
      expect(redactUrl(url), url).not.to.match(/secret|se@cr|et@a/)
  })
})
