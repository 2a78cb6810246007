import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { MemoryBus } from './bus/memory-bus.ts'
import { ChannelDirectory } from './channels/channel-directory.ts'
import { channelRoutes } from './channels/channel-routes.ts'
import { channelTypesCollection } from './channels/channel-types-collection.ts'
import { integrationPointsCollection } from './channels/integration-points-collection.ts'
import { Licensing } from './channels/licensing.ts'
import { ChangeFeed } from './collections/change-feed.ts'
import type { CollectionDef } from './collections/collection.ts'
import { collectionRoutes } from './collections/collection-routes.ts'
import { createCollectionService } from './collections/collection-service.ts'
import { type Config, ConfigError } from './config.ts'
import { ensureBuiltInDomains } from './domains/bootstrap.ts'
import { DomainDirectory } from './domains/domain-directory.ts'
import { domainsCollection } from './domains/domains-collection.ts'
import { installAuthHook } from './http/auth-hook.ts'
import { healthRoutes } from './http/health-routes.ts'
import { installOpenApi } from './http/openapi.ts'
import { createHttpServer } from './http/server.ts'
import { apiKeysCollection } from './iam/api-keys-collection.ts'
import { Authenticator } from './iam/authenticator.ts'
import { KeyRing } from './iam/key-ring.ts'
import { ensureRootKey, type RootKey } from './iam/root-key.ts'
import { usersCollection } from './iam/users-collection.ts'
import { newId } from './ids.ts'
import { createLogger, type Logger } from './logger.ts'
import { svcscriptsCollection } from './scripts/svcscripts-collection.ts'
import { openPostgresStore } from './store/postgres-store.ts'
import { openSqliteStore } from './store/sqlite-store.ts'
import type { Store } from './store/store.ts'
import { VERSION } from './version.ts'

export interface App {
  readonly http: FastifyInstance
  readonly logger: Logger
  /** True when this start created the built-in domains (an empty store). */
  readonly firstStart: boolean
  readonly rootKey: RootKey
  /** Starts listening on the configured host and port; resolves with the base URL. */
  listen(): Promise<string>
  /** Stops everything in reverse order of creation. Idempotent. */
  close(): Promise<void>
}

export interface AppOptions {
  readonly logger?: Logger
  /** PostgreSQL schema to use (tests isolate themselves with one per run). */
  readonly postgresSchema?: string
}

/** The composition root: config → engines → capabilities → HTTP server. The only file that picks engines. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  if (config.natsUrl !== undefined) {
    throw new ConfigError('SWITCHBOARD_NATS_URL: cluster mode (the NATS bus) is not available in this version yet')
  }
  const logger = options.logger ?? createLogger(config.logLevel)
  const onError = (error: unknown) => logger.error({ err: error }, 'background task failed')

  const store: Store = config.databaseUrl
    ? await openPostgresStore({
        url: config.databaseUrl,
        ...(options.postgresSchema !== undefined && { schema: options.postgresSchema }),
      })
    : openSqliteStore(join(config.dataDir, 'switchboard.db'))
  const bus = new MemoryBus({ onError: (error, subject) => logger.error({ err: error, subject }, 'bus handler failed') })
  try {
    await store.migrate()

    const changes = new ChangeFeed(bus, newId())
    const domains = new DomainDirectory(store, changes, onError)
    const channels = new ChannelDirectory(store, changes, onError)
    const keys = new KeyRing(store, changes, onError)
    const licensing = new Licensing(domains, config.license)

    const channelsDef = integrationPointsCollection(licensing)
    const collection = (def: CollectionDef) => createCollectionService(def, { store, changes })
    const domainService = collection(domainsCollection)
    const services = [
      domainService,
      collection(channelTypesCollection(channelsDef)),
      collection(channelsDef),
      collection(svcscriptsCollection),
      collection(usersCollection),
      collection(apiKeysCollection),
    ]

    const firstStart = await ensureBuiltInDomains(store, domainService)
    const rootKey = await ensureRootKey(store.settings, config.adminKey)
    await Promise.all([domains.load(), channels.load(), keys.load()])

    const http = createHttpServer({ logger, bodyLimit: config.restBodyLimit })
    await installOpenApi(http, VERSION)
    installAuthHook(http, new Authenticator(keys, domains, rootKey.hash))
    healthRoutes(http, async () => {
      await store.ping()
      await bus.flush()
    })
    for (const service of services) collectionRoutes(http, service)
    channelRoutes(http, { channels, licensing, store })
    await http.ready()

    let closed: Promise<void> | undefined
    return {
      http,
      logger,
      firstStart,
      rootKey,
      async listen() {
        await http.listen({ host: config.host, port: config.port })
        const address = http.server.address()
        const port = typeof address === 'object' && address ? address.port : config.port
        const host = config.host.includes(':') ? `[${config.host}]` : config.host
        return `http://${host}:${port}`
      },
      close() {
        closed ??= (async () => {
          await http.close()
          await bus.close()
          await store.close()
        })()
        return closed
      },
    }
  } catch (error) {
    await bus.close()
    await store.close()
    throw error
  }
}
