import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ALL_RIGHTS, beyond, compilePermission, NO_RIGHTS, type Permission, rightsOf, routeProblem } from './permissions.ts'

const rights = (...permissions: Permission[]) => rightsOf(permissions.map(compilePermission))
const CHANNELS = '/rest/v1/service/integration_points'
const ID = '3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f'

describe('role permissions (SPEC §10)', () => {
  it('matches literal paths exactly, and method by method', () => {
    const r = rights({ route: CHANNELS, methods: ['GET', 'POST'] })
    assert.equal(r.allows('GET', CHANNELS), true)
    assert.equal(r.allows('HEAD', CHANNELS), true, 'HEAD is GET')
    assert.equal(r.allows('POST', CHANNELS), true)
    assert.equal(r.allows('PATCH', CHANNELS), false)
    assert.equal(r.allows('GET', `${CHANNELS}/${ID}`), false, 'an item is another path')
    assert.equal(r.allows('GET', '/rest/v1/service/svcscripts'), false)
    assert.equal(r.allows('GET', `${CHANNELS}x`), false)
    assert.equal(r.all, false)
  })

  it('lets a trailing * cover the path and everything below it, and an inner * one segment', () => {
    const below = rights({ route: '/rest/v1/service/*', methods: ['GET'] })
    assert.equal(below.allows('GET', '/rest/v1/service'), true)
    assert.equal(below.allows('GET', CHANNELS), true)
    assert.equal(below.allows('GET', `${CHANNELS}/${ID}`), true)
    assert.equal(below.allows('GET', '/rest/v1/iam/users'), false)
    assert.equal(below.allows('GET', '/rest/v1/servicex'), false)
    assert.equal(below.allows('DELETE', `${CHANNELS}/${ID}`), false)

    const run = rights({ route: '/rest/v1/service/svcscripts/*/run', methods: ['POST'] })
    assert.equal(run.allows('POST', `/rest/v1/service/svcscripts/${ID}/run`), true)
    assert.equal(run.allows('POST', '/rest/v1/service/svcscripts/a/b/run'), false)
    assert.equal(run.allows('POST', '/rest/v1/service/svcscripts/run'), false)

    const everything = rights({ route: '/*', methods: ['*'] })
    assert.equal(everything.allows('DELETE', '/rest/v1/iam/users/x'), true)
    assert.equal(everything.allowsCapability('rest'), false, 'REST patterns do not open capabilities')
  })

  it('allows a lookup by POST on its path, or by LOOKUP or GET on the collection', () => {
    assert.equal(rights({ route: CHANNELS, methods: ['GET'] }).allows('POST', `${CHANNELS}/lookup`), true)
    assert.equal(rights({ route: CHANNELS, methods: ['LOOKUP'] }).allows('POST', `${CHANNELS}/lookup`), true)
    assert.equal(rights({ route: CHANNELS, methods: ['LOOKUP'] }).allows('GET', CHANNELS), false)
    assert.equal(rights({ route: `${CHANNELS}/lookup`, methods: ['POST'] }).allows('POST', `${CHANNELS}/lookup`), true)
    assert.equal(rights({ route: CHANNELS, methods: ['POST'] }).allows('POST', `${CHANNELS}/lookup`), false)
  })

  it('opens websocket capabilities with /ws#<capability> and WEBSOCKET', () => {
    const r = rights({ route: '/ws#subscr', methods: ['WEBSOCKET'] }, { route: CHANNELS, methods: ['GET'] })
    assert.equal(r.allowsCapability('subscr'), true)
    assert.equal(r.allowsCapability('rest'), false)
    assert.equal(r.allows('GET', CHANNELS), true)
    assert.equal(rights({ route: '/ws#*', methods: ['*'] }).allowsCapability('files'), true)
    assert.equal(rights().allowsCapability('files'), false)
    assert.equal(rights().allows('GET', CHANNELS), false)
  })

  it('refuses patterns it could not match as written', () => {
    assert.equal(routeProblem('/rest/v1/service/*', ['GET']), undefined)
    assert.equal(routeProblem('/ws#svcscript', ['WEBSOCKET']), undefined)
    assert.equal(routeProblem('/', ['GET']), undefined)
    assert.match(routeProblem('rest/v1', ['GET']) ?? '', /starting with \//)
    assert.match(routeProblem('/rest/v1/', ['GET']) ?? '', /must not end with/)
    assert.match(routeProblem('/rest/v1/integration_*', ['GET']) ?? '', /\* only as a whole segment/)
    assert.match(routeProblem('/rest//v1', ['GET']) ?? '', /empty or invalid segment/)
    assert.match(routeProblem('/rest/v1?x=1', ['GET']) ?? '', /invalid segment/)
    assert.match(routeProblem('/ws#chat', ['WEBSOCKET']) ?? '', /names no websocket capability/)
    assert.match(routeProblem('/ws#rest', ['GET']) ?? '', /its methods are WEBSOCKET/)
    assert.match(routeProblem('/rest/v1/x', ['WEBSOCKET']) ?? '', /WEBSOCKET applies to \/ws#/)
    assert.match(routeProblem(`/${'x'.repeat(300)}`, ['GET']) ?? '', /at most 256/)
  })

  it('refuses . and .. segments in route patterns', () => {
    assert.match(routeProblem('/rest/v1/service/../iam/*', ['GET']) ?? '', /may not hold \. or \.\. segments/)
    assert.match(routeProblem('/rest/v1/./iam', ['GET']) ?? '', /may not hold \. or \.\. segments/)
    assert.equal(routeProblem('/rest/v1/a.b/..c', ['GET']), undefined, 'dots inside a name are a name')
  })

  it('says which granted right a holder lacks, verb by verb and path by path', () => {
    const holder = rights(
      { route: '/rest/v1/service/*', methods: ['GET'] },
      { route: '/rest/v1/iam/users/*/x', methods: ['PATCH', 'DELETE'] },
      { route: CHANNELS, methods: ['*'] },
      { route: '/ws#subscr', methods: ['WEBSOCKET'] },
    )
    const within = (...permissions: Permission[]) => beyond(holder, rights(...permissions))
    assert.equal(within(), undefined)
    assert.equal(within({ route: '/rest/v1/service/*', methods: ['GET'] }), undefined)
    assert.equal(within({ route: '/rest/v1/service', methods: ['GET'] }), undefined, 'a trailing * covers the path itself')
    assert.equal(within({ route: '/rest/v1/service/svcscripts/*/versions', methods: ['GET'] }), undefined)
    assert.equal(within({ route: '/rest/v1/service/*', methods: ['LOOKUP'] }), undefined, 'GET allows lookups')
    assert.equal(within({ route: `${CHANNELS}/lookup`, methods: ['POST'] }), 'POST /rest/v1/service/integration_points/lookup')
    assert.equal(within({ route: CHANNELS, methods: ['*'] }), undefined)
    assert.equal(within({ route: `/rest/v1/iam/users/${ID}/x`, methods: ['DELETE'] }), undefined)
    assert.equal(within({ route: '/rest/v1/iam/users/*/x', methods: ['*'] }), 'GET /rest/v1/iam/users/*/x')
    assert.equal(within({ route: '/rest/v1/iam/users/*', methods: ['PATCH'] }), 'PATCH /rest/v1/iam/users/*')
    assert.equal(within({ route: '/rest/v1/*', methods: ['GET'] }), 'GET /rest/v1/*')
    assert.equal(within({ route: '/rest/v1/service/*', methods: ['POST'] }), 'POST /rest/v1/service/*')
    assert.equal(within({ route: '/ws#subscr', methods: ['WEBSOCKET'] }), undefined)
    assert.equal(within({ route: '/ws#rest', methods: ['WEBSOCKET'] }), '/ws#rest')
    assert.equal(within({ route: '/ws#*', methods: ['WEBSOCKET'] }), '/ws#*')
    assert.equal(beyond(holder, ALL_RIGHTS), 'admin: everything in the domain')
    assert.equal(beyond(ALL_RIGHTS, ALL_RIGHTS), undefined)
    assert.equal(beyond(NO_RIGHTS, NO_RIGHTS), undefined)
    assert.equal(beyond(rights({ route: '/*', methods: ['*'] }), rights({ route: '/rest/v1/x/*/y', methods: ['*'] })), undefined)
  })
})
