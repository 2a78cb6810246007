import { assignments, type Group, type Invocation, runGroup, text, texts, usageError, type Values } from './command.ts'
import { cell, emit, emitList, table } from './output.ts'

const USERS = '/rest/v1/iam/users'
const KEYS = '/rest/v1/iam/api_keys'

type Entity = Record<string, unknown>

const USER_OPTIONS = {
  name: { type: 'string' },
  role: { type: 'string', multiple: true },
  email: { type: 'string' },
  comment: { type: 'string' },
  set: { type: 'string', multiple: true },
} as const

const USER_HELP = `  --name <text>             the user's name
  --role <code>             a role (repeatable); update replaces the list. admin may do everything
                            in the domain; other roles are defined in /rest/v1/iam/roles
  --email <address>         opts.email
  --comment <text>          opts.comment
  --set <field>=<value>     any other field, by its path (a JSON value, else the text; repeatable)`

function userFields(values: Values, command: string): Entity {
  const body = assignments(texts(values, 'set'), command)
  const name = text(values, 'name')
  if (name !== undefined) body.name = name
  const roles = texts(values, 'role')
  if (roles.length > 0) body.roles = roles
  const opts: Entity = { ...((body.opts as Entity | undefined) ?? {}) }
  const email = text(values, 'email')
  if (email !== undefined) opts.email = email
  const comment = text(values, 'comment')
  if (comment !== undefined) opts.comment = comment
  if (Object.keys(opts).length > 0) body.opts = opts
  return body
}

function byLogin(invocation: Invocation, login = invocation.args[0] as string): Promise<Entity> {
  return invocation.api().byKey(USERS, 'user', 'login', login)
}

export const USERS_GROUP: Group = {
  name: 'users',
  intro: "The domain's users, addressed by their login. Their API keys: 'switchboard keys'.",
  commands: {
    list: {
      summary: "the domain's users: login, name, roles",
      async run({ api, output }) {
        const all = await api().list(USERS, { order: 'login' })
        emitList(output, all, () =>
          table(
            ['login', 'name', 'roles', 'email'],
            all.map((user) => [String(user.login), cell(user.name), cell(user.roles), cell((user.opts as Entity).email)]),
            'no users',
          ),
        )
        return 0
      },
    },
    get: {
      args: ['<login>'],
      summary: 'one user, as JSON',
      async run(invocation) {
        const user = await byLogin(invocation)
        emit(invocation.output, user, () => JSON.stringify(user, null, 2))
        return 0
      },
    },
    create: {
      args: ['<login>'],
      summary: 'a new user (then give it a key: switchboard keys create <login>)',
      details: USER_HELP,
      options: USER_OPTIONS,
      async run({ api, args, values, output, name }) {
        const login = args[0] as string
        const created = (await api().call('POST', USERS, { login, ...userFields(values, name) })) as Entity
        emit(output, created, () => `created user ${login} (${String(created.id)})`)
        return 0
      },
    },
    update: {
      args: ['<login>'],
      summary: 'change a user: only the fields given',
      details: `  --login <login>           a new login\n${USER_HELP}`,
      options: { ...USER_OPTIONS, login: { type: 'string' } },
      async run(invocation) {
        const { values, name, output } = invocation
        const fields = userFields(values, name)
        const login = text(values, 'login')
        if (login !== undefined) fields.login = login
        if (Object.keys(fields).length === 0) throw usageError('nothing to change: give a flag such as --name or --role', name)
        const user = await byLogin(invocation)
        const updated = (await invocation.api().call('PATCH', `${USERS}/${String(user.id)}`, fields)) as Entity
        emit(output, updated, () => `updated user ${String(updated.login)}: ${Object.keys(fields).join(', ')}`)
        return 0
      },
    },
    delete: {
      args: ['<login>'],
      summary: 'delete a user (the server refuses while it has API keys or channels act for it)',
      async run(invocation) {
        const user = await byLogin(invocation)
        const deleted = (await invocation.api().call('DELETE', `${USERS}/${String(user.id)}`)) as Entity
        emit(invocation.output, deleted, () => `deleted user ${String(deleted.login)} (${String(deleted.id)})`)
        return 0
      },
    },
  },
}

export const KEYS_GROUP: Group = {
  name: 'keys',
  intro:
    "API keys of the domain's users. A key acts as its user, with the user's roles; the secret is\nshown once, when the key is created.",
  commands: {
    list: {
      summary: 'the keys: id, user, name, created (never the secret)',
      details: "  --user <login>            only this user's keys",
      options: { user: { type: 'string' } },
      async run(invocation) {
        const { api, values, output } = invocation
        const login = text(values, 'user')
        const users = new Map(
          (await api().list(USERS, { mask: 'id,login' })).map((user) => [String(user.id), String(user.login)]),
        )
        const filter = login === undefined ? {} : { filter: JSON.stringify({ userid: (await byLogin(invocation, login)).id }) }
        const all = await api().list(KEYS, { order: 'ext.ct', ...filter })
        emitList(output, all, () =>
          table(
            ['id', 'user', 'name', 'created'],
            all.map((key) => [
              String(key.id),
              users.get(String(key.userid)) ?? String(key.userid),
              cell(key.name),
              cell((key.ext as Entity).ct),
            ]),
            'no keys',
          ),
        )
        return 0
      },
    },
    create: {
      args: ['<login>'],
      summary: 'a new key for a user; prints its secret (shown only now)',
      details: "  --name <text>             what the key is for ('deploy', 'ci')\n\n--field key prints the secret alone.",
      options: { name: { type: 'string' } },
      async run(invocation) {
        const user = await byLogin(invocation)
        const name = text(invocation.values, 'name')
        const created = (await invocation.api().call('POST', KEYS, {
          userid: user.id,
          ...(name !== undefined && { name }),
        })) as Entity
        emit(
          invocation.output,
          created,
          () =>
            `created key ${String(created.id)} for ${String(user.login)}\nkey (shown only now; keep it safe): ${String(created.key)}`,
        )
        return 0
      },
    },
    delete: {
      args: ['<id>'],
      summary: 'delete a key; it stops working at once',
      async run({ api, args, output }) {
        const deleted = (await api().call('DELETE', `${KEYS}/${encodeURIComponent(args[0] as string)}`)) as Entity
        emit(output, deleted, () => `deleted key ${String(deleted.id)}`)
        return 0
      },
    },
  },
}

/** `switchboard users …` */
export function users(args: readonly string[]): Promise<number> {
  return runGroup(USERS_GROUP, args)
}

/** `switchboard keys …` */
export function keys(args: readonly string[]): Promise<number> {
  return runGroup(KEYS_GROUP, args)
}
