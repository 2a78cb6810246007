import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { auditCollection } from './audit/audit-collection.ts'
import { AuditLog } from './audit/audit-log.ts'
import type { Blobs } from './blobs/blobs.ts'
import { FilesystemBlobs } from './blobs/filesystem-blobs.ts'
import { NatsObjectBlobs } from './blobs/nats-object-blobs.ts'
import type { Bus, MalformedHandler } from './bus/bus.ts'
import { IpcBus } from './bus/ipc-bus.ts'
import { MemoryBus } from './bus/memory-bus.ts'
import { NatsBus } from './bus/nats-bus.ts'
import { Peers } from './bus/peers.ts'
import { ChannelAccess } from './channels/channel-access.ts'
import { ChannelDirectory } from './channels/channel-directory.ts'
import { channelRoutes } from './channels/channel-routes.ts'
import { ChannelTypeDirectory } from './channels/channel-type-directory.ts'
import { channelTypesCollection } from './channels/channel-types-collection.ts'
import { type ChannelsModuleDeps, channelsModule } from './channels/channels-module.ts'
import { integrationPointsCollection } from './channels/integration-points-collection.ts'
import { Licensing } from './channels/licensing.ts'
import { CloseStack, closeFailure } from './close-stack.ts'
import { ChangeFeed } from './collections/change-feed.ts'
import type { CollectionDef } from './collections/collection.ts'
import { collectionRoutes } from './collections/collection-routes.ts'
import { createCollectionService } from './collections/collection-service.ts'
import { type Config, ConfigError, type LogLevel } from './config.ts'
import { consoleRoutes } from './console/console-routes.ts'
import { Deliveries, type DeliveryJob, isDeliveryJob } from './deliveries/deliveries.ts'
import { deliveriesCollection } from './deliveries/deliveries-collection.ts'
import { deliveryRoutes } from './deliveries/delivery-routes.ts'
import { ensureBuiltInDomains } from './domains/bootstrap.ts'
import { DomainDirectory } from './domains/domain-directory.ts'
import { domainsCollection } from './domains/domains-collection.ts'
import { EventDelivery } from './events/event-delivery.ts'
import { Events } from './events/events.ts'
import { eventsModule } from './events/events-module.ts'
import { ExecutionRecorder } from './executions/execution-recorder.ts'
import { executionsCollection } from './executions/executions-collection.ts'
import { bulkReplayRoutes, replayRoutes } from './executions/replay-routes.ts'
import { trafficRoutes } from './executions/traffic-routes.ts'
import { fileRoutes } from './files/file-routes.ts'
import { FileSpaces } from './files/file-spaces.ts'
import { filesModule } from './files/files-module.ts'
import { TempLinks } from './files/temp-links.ts'
import { installAuthHook } from './http/auth-hook.ts'
import { healthRoutes } from './http/health-routes.ts'
import { installOpenApi } from './http/openapi.ts'
import { closeHttpServer, createHttpServer } from './http/server.ts'
import { apiKeysCollection } from './iam/api-keys-collection.ts'
import { Authenticator } from './iam/authenticator.ts'
import { KeyRing } from './iam/key-ring.ts'
import { KeyUsage } from './iam/key-usage.ts'
import { RoleDirectory } from './iam/role-directory.ts'
import { rolesCollection } from './iam/roles-collection.ts'
import { ensureRootKey, type RootKey } from './iam/root-key.ts'
import { AccessRights } from './iam/token-rights.ts'
import { usersCollection } from './iam/users-collection.ts'
import { newId } from './ids.ts'
import { createLogger, type Logger } from './logger.ts'
import type { ErrorSource } from './metrics/error-metrics.ts'
import { createMetrics, type Metrics } from './metrics/metrics.ts'
import { MetricsGather } from './metrics/metrics-gather.ts'
import { metricsRoutes } from './metrics/metrics-routes.ts'
import { EgressGuard } from './net/egress.ts'
import { parseIpRanges } from './net/ip-ranges.ts'
import { apiModule } from './project-api/api-module.ts'
import { InProcessApi } from './project-api/in-process-api.ts'
import { JetStreamJobQueue } from './queue/jetstream-queue.ts'
import type { Job, JobQueue } from './queue/job-queue.ts'
import { StoreJobQueue } from './queue/store-queue.ts'
import { localModules } from './scripts/api/local-modules.ts'
import { DomainHosts } from './scripts/host/domain-hosts.ts'
import {
  DEFAULT_TIMEOUT_MS,
  HTTP_MAX_REQUEST_BYTES,
  HTTP_MAX_RESPONSE_BYTES,
  MAX_LOG_CHARS,
  MAX_LOG_LINE_CHARS,
  MAX_LOG_LINES,
  MAX_OUTPUT_CHARS,
} from './scripts/run-limits.ts'
import { ScriptRuntime } from './scripts/runtime/script-runtime.ts'
import { ScriptDirectory } from './scripts/script-directory.ts'
import { ScriptExecutor } from './scripts/script-executor.ts'
import { ScriptPlacement } from './scripts/script-placement.ts'
import { scriptRoutes } from './scripts/script-routes.ts'
import { scriptVersionRoutes } from './scripts/script-versions.ts'
import { svcscriptsCollection } from './scripts/svcscripts-collection.ts'
import { typeCheckedSaves } from './scripts/type-checked-saves.ts'
import { openPostgresStore } from './store/postgres-store.ts'
import { openSqliteStore } from './store/sqlite-store.ts'
import type { Store } from './store/store.ts'
import { traceServerRequests } from './tracing/server-spans.ts'
import { openTracing } from './tracing/tracing.ts'
import { VERSION } from './version.ts'
import { AsyncWebhooks, type WebhookJob } from './webhooks/async-webhooks.ts'
import { WebhookDedup } from './webhooks/webhook-dedup.ts'
import { webhookRoutes } from './webhooks/webhook-routes.ts'
import { Webhooks } from './webhooks/webhooks.ts'
import { baseProtocol } from './websocket/base-protocol.ts'
import { filesCapability } from './websocket/capabilities/files.ts'
import { restCapability } from './websocket/capabilities/rest.ts'
import { subscrCapability } from './websocket/capabilities/subscr.ts'
import { svcscriptCapability } from './websocket/capabilities/svcscript.ts'
import { CapabilityGate } from './websocket/capability-gate.ts'
import { ConnectionCensus } from './websocket/connection-census.ts'
import { ConnectionRegistry } from './websocket/connection-registry.ts'
import { connectionRoutes } from './websocket/connection-routes.ts'
import type { WsConnection } from './websocket/ws-connection.ts'
import { wsModule } from './websocket/ws-module.ts'
import { WsPush } from './websocket/ws-push.ts'
import { wsRoutes } from './websocket/ws-routes.ts'
import { Containment } from './workers/containment.ts'
import { DataDirLock } from './workers/data-dir-lock.ts'
import type { WorkerLink } from './workers/worker-link.ts'

/** The work the queue holds: async webhooks and deliveries. */
type QueuedJob = WebhookJob | DeliveryJob

export interface App {
  readonly http: FastifyInstance
  readonly logger: Logger
  readonly metrics: Metrics
  /** True when this start created the built-in domains (an empty store). */
  readonly firstStart: boolean
  readonly rootKey: RootKey
  /** Starts listening on the configured host and port (shared with the node's other workers); resolves with the base URL. */
  listen(): Promise<string>
  /** This worker's id on the bus (Peers, the queue's leases, `site` in connection_info). */
  readonly nodeId: string
  /**
   * Graceful shutdown, idempotent: stops accepting (the listening socket closes, websockets get
   * 1001, requests on open connections 503), gives in-flight requests and running async jobs up
   * to `shutdownTimeoutMs` to finish, then cuts the requests left and hands the jobs left back
   * to the queue; then closes the rest in reverse order of creation: script hosts (isolates
   * disposed), execution records (flushed), bus, store. Every part is closed even when one
   * fails; the failures are logged and rejected together (AggregateError). `code` is what
   * websocket clients are told: 1001 going away, or 1012 (a worker drains to be replaced:
   * reconnect to the node).
   */
  close(code?: 1001 | 1012): Promise<void>
}

export interface AppOptions {
  readonly logger?: Logger
  /** PostgreSQL schema to use, over SWITCHBOARD_DATABASE_SCHEMA (tests isolate themselves with one per run). */
  readonly postgresSchema?: string
  /**
   * This process holds an isolate V8 may not have stopped (SPEC §13): the supervisor's worker
   * link drains and replaces it. Default: the error is logged.
   */
  readonly replaceMe?: (reason: string) => void
  /**
   * This app is a worker of a node (SPEC §13): its bus is the supervisor's relay, it listens on
   * the node's shared port (reusePort), and only worker 0 runs housekeeping. Default: a process of
   * its own (tests, embedders), on an in-process bus, holding the data directory itself.
   */
  readonly worker?: WorkerLink
}

/** The composition root: config → engines → capabilities → HTTP server. The only file that picks engines. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  if (config.natsUrl !== undefined && config.databaseUrl === undefined) {
    throw new ConfigError('SWITCHBOARD_NATS_URL needs SWITCHBOARD_DATABASE_URL: the nodes of a cluster share PostgreSQL')
  }
  const logger = options.logger ?? createLogger(config.logLevel)
  // The domain directory is loaded after the store opens, and the store already counts.
  let domainNames: DomainDirectory | undefined
  const metrics = createMetrics({ version: VERSION, domainName: (id) => domainNames?.byId(id)?.name })
  /** An error sink: a log line at error and a count (switchboard_errors_total), never silence. */
  const failed =
    (source: ErrorSource, message: string) =>
    (error: unknown, fields?: Record<string, unknown>): void => {
      metrics.errors.count(source)
      logger.error({ err: error, ...fields }, message)
    }
  const onError = failed('background', 'background task failed')

  // How websocket clients are told when the app closes (close(code)).
  let closeCode: 1001 | 1012 = 1001
  // Everything opened is closed in reverse order: by close(), or at once if the start fails. A
  // close that fails is logged and the others still run.
  const opened = new CloseStack()
  const closeAll = async (): Promise<unknown[]> => {
    const errors = await opened.close()
    for (const error of errors) logger.error({ err: error }, 'a part of the server failed to close')
    return errors
  }
  opened.push({ close: async () => metrics.close() })
  try {
    const sqliteFile = join(config.dataDir, 'switchboard.db')
    // A node owns its embedded data directory; a worker's supervisor holds it for the node.
    if (config.databaseUrl === undefined && options.worker === undefined) {
      const lock = DataDirLock.acquire(sqliteFile)
      opened.push({ close: async () => lock.release() })
    }
    const schema = options.postgresSchema ?? config.databaseSchema
    const store: Store = config.databaseUrl
      ? await openPostgresStore({
          url: config.databaseUrl,
          onQuery: metrics.store.query,
          onError: failed('store_pool', 'an idle PostgreSQL connection failed'),
          ...(schema !== undefined && { schema }),
        })
      : openSqliteStore(sqliteFile, { onQuery: metrics.store.query })
    opened.push(store)
    const nodeId = newId()
    // Traces, when an OTLP endpoint is set: this worker exports its own spans (its script hosts
    // theirs). Closed after every part that makes spans, so their last ones are sent.
    let traceExportSaid = Number.NEGATIVE_INFINITY
    const traceExportLogged = failed('trace_export', 'spans could not be exported (said at most once a minute)')
    const traceExportFailed = (error: unknown) => {
      if (performance.now() - traceExportSaid < 60_000) return metrics.errors.count('trace_export')
      traceExportSaid = performance.now()
      traceExportLogged(error)
    }
    const tracing =
      config.tracing &&
      (await openTracing(config.tracing, {
        role: 'worker',
        instanceId: nodeId,
        closeWaitMs: 5000,
        onExportError: traceExportFailed,
      }))
    if (tracing) opened.push(tracing)
    const busHandlerFailed = failed('bus_handler', 'bus handler failed')
    const onBusError = (error: unknown, subject: string) => busHandlerFailed(error, { subject })
    // Another version's message (a rolling upgrade): counted, and said once per topic and minute.
    const malformedSaid = new Map<string, number>()
    const onMalformed = (topic: string, subject: string) => {
      metrics.bus.malformed(topic)
      const now = performance.now()
      if ((malformedSaid.get(topic) ?? Number.NEGATIVE_INFINITY) > now - 60_000) return
      malformedSaid.set(topic, now)
      logger.error({ topic, subject }, 'a bus message did not fit its topic (a node of another version?); dropped')
    }
    // Cluster mode: NATS carries the bus, the queue and the files; embedded: all stay in the process.
    const nats =
      config.natsUrl === undefined
        ? undefined
        : await NatsBus.connect({
            url: config.natsUrl,
            prefix: config.natsPrefix,
            name: `switchboard ${nodeId}`,
            onError: onBusError,
            onMalformed,
            onStatus: (status) => logger.warn({ status: status.type, server: status.server }, 'NATS connection status'),
          })
    const bus: Bus =
      nats ??
      (options.worker
        ? ipcBus(options.worker, onBusError, onMalformed)
        : new MemoryBus({ onError: onBusError, onMalformed, onDelivered: metrics.bus.delivered }))
    opened.push(bus)
    // Retention and purges run in one worker of a node: worker 0, or a process of its own.
    const housekeeping = (options.worker?.index ?? 0) === 0
    // Files: the NATS object store, shared by every node, or a directory of the data dir.
    const blobs: Blobs = nats
      ? await NatsObjectBlobs.open(nats.connection, { prefix: config.natsPrefix, onError })
      : await FilesystemBlobs.open(join(config.dataDir, 'files'))
    opened.push(blobs)
    const peers = new Peers(bus, nodeId)
    opened.push(peers)
    let droppedSince = 0
    const recorder = new ExecutionRecorder(store, {
      flushMs: 20,
      maxBatch: 500,
      maxBuffered: 20_000,
      keepCount: config.executionsKeep,
      keepMs: config.executionsKeepHours * 3_600_000,
      retentionEveryMs: housekeeping ? 60_000 : undefined,
      onError: (error) => {
        metrics.executions.recordWritesFailed.value++
        logger.error({ err: error }, 'execution records could not be written; trying again')
      },
      onDropped: (count) => {
        metrics.executions.recordsDropped.value += count
        // Said at most every ten seconds: a full store drops many.
        if (droppedSince === 0)
          setTimeout(() => {
            logger.error({ dropped: droppedSince }, 'execution records dropped: too many wait to be written')
            droppedSince = 0
          }, 10_000).unref()
        droppedSince += count
      },
    })
    metrics.executions.watchRecords(() => recorder.buffered)
    opened.push(recorder)
    const events = new Events({
      bus,
      maxEventBytes: config.eventMaxBytes,
      masterDomainId: () => domains.byName('master')?.id,
      metrics: metrics.events,
    })
    opened.push(events)
    const links = new TempLinks(store, {
      lifetimeMs: config.tempLinkMs,
      purgeEveryMs: housekeeping ? 60_000 : undefined,
      onError,
    })
    opened.push(links)
    const audit = new AuditLog(store, {
      keepCount: config.auditKeep,
      keepMs: config.auditKeepDays * 86_400_000,
      retentionEveryMs: housekeeping ? 60_000 : undefined,
      onError,
    })
    opened.push(audit)
    const files = new FileSpaces({
      blobs,
      links,
      maxBytes: config.filesMaxBytes,
      changed: (change) => audit.recordFile(change),
    })

    // Pushes and sends need the executor, which needs the runner, and API calls need the HTTP
    // server: their modules reach them late.
    const registry = new ConnectionRegistry()
    let push: WsPush | undefined
    let sendDeps: ChannelsModuleDeps | undefined
    let projectApi: InProcessApi | undefined
    // Scripts run in isolates of this worker, or in script hosts of their domain (SPEC §13).
    const scriptSettings = {
      memoryMb: config.scriptMemoryMb,
      cpuLimitMs: config.scriptCpuMs,
      maxIsolates: config.scriptMaxIsolates,
      maxInFlightPerIsolate: 64,
      maxQueuedPerScript: 1000,
      egressAllow: config.egressAllow,
      httpTimeoutMs: DEFAULT_TIMEOUT_MS,
      httpMaxResponseBytes: HTTP_MAX_RESPONSE_BYTES,
      httpMaxRequestBytes: HTTP_MAX_REQUEST_BYTES,
      maxOutputChars: MAX_OUTPUT_CHARS,
      maxLogLineChars: MAX_LOG_LINE_CHARS,
      maxLogLines: MAX_LOG_LINES,
      maxLogChars: MAX_LOG_CHARS,
      wasm: config.scriptWasm,
      ...(config.tracing && { tracing: config.tracing }),
    }
    const workerModules = [
      wsModule(() => push as WsPush),
      eventsModule(events),
      channelsModule(() => sendDeps as ChannelsModuleDeps),
      filesModule(files),
      apiModule(() => projectApi as InProcessApi),
    ]
    let containment: Containment | undefined
    const scriptHostFailed = failed('script_host', 'script host process failed')
    const isolateHeapFailed = failed('isolate_heap', 'measuring an isolate heap failed')
    const local = new ScriptRuntime({
      memoryMb: scriptSettings.memoryMb,
      cpuLimitMs: scriptSettings.cpuLimitMs,
      maxIsolates: scriptSettings.maxIsolates,
      maxHeapBytes: scriptSettings.maxIsolates * scriptSettings.memoryMb * 1024 * 1024,
      isolatesPerScript: 1,
      maxInFlightPerIsolate: scriptSettings.maxInFlightPerIsolate,
      maxQueuedPerScript: scriptSettings.maxQueuedPerScript,
      modules: [
        ...localModules(scriptSettings, (call) => logger.debug({ ...call }, 'outbound request'), tracing),
        ...workerModules,
      ],
      limits: {
        maxOutputChars: scriptSettings.maxOutputChars,
        maxLogLineChars: scriptSettings.maxLogLineChars,
        maxLogLines: scriptSettings.maxLogLines,
        maxLogChars: scriptSettings.maxLogChars,
      },
      wasm: config.scriptWasm,
      onTainted: (script, reason) => containment?.taint(script, reason),
      onError: isolateHeapFailed,
    })
    const hosts = new DomainHosts({
      label: 'domain',
      hostMemoryCapMb: config.scriptHostMemoryMb,
      idleMs: 5 * 60_000,
      settings: scriptSettings,
      remoteModules: workerModules,
      onHostEvent: (event) => {
        if (event.what !== 'stopped') return
        metrics.scripts.restarted(event.cause)
        logger.warn(
          { host: event.host, domain_id: event.domainId, cause: event.cause, reason: event.reason },
          'script host stopped; starting another',
        )
      },
      // The logger's own level: a test or an embedder may give a logger of their own.
      logLevel: logger.level as LogLevel,
      onNote: ({ host, level, msg, fields }) => logger[level]({ host, ...fields }, msg),
      onError: (error, where) => {
        if (where === undefined) onError(error)
        else if (where.what === 'process') scriptHostFailed(error, { host: where.host, domain_id: where.domainId })
        else if (where.what === 'trace_export') traceExportFailed(error)
        else isolateHeapFailed(error, { host: where.host, domain_id: where.domainId })
      },
    })
    // Where a domain's scripts run: its own choice, else the installation's.
    const runner = new ScriptPlacement({
      local,
      hosts,
      isolationOf: (domainId) => domains.byId(domainId)?.scriptIsolation ?? config.scriptIsolation,
    })
    opened.push(runner)
    metrics.scripts.watch(() => runner.stats())

    await store.migrate()

    const changes = new ChangeFeed(bus, nodeId, {
      peers,
      onUnconfirmed: (nodes, notice) =>
        logger.warn({ nodes, collection: notice.collection, id: notice.id }, 'nodes did not confirm a change in time'),
    })
    opened.push(changes)
    const domains = new DomainDirectory(store, changes, onError)
    domainNames = domains
    const channels = new ChannelDirectory(store, changes, onError)
    const keys = new KeyRing(store, changes, onError)
    const keyUsage = new KeyUsage(store, onError)
    const roles = new RoleDirectory(store, changes, onError)
    const scriptDirectory = new ScriptDirectory(store, changes, onError)
    const channelTypes = new ChannelTypeDirectory(store, changes, onError)
    const executor = new ScriptExecutor({
      runner,
      recorder,
      maxLogLines: MAX_LOG_LINES,
      metrics: metrics.executions,
      logger,
      relativeUrlsOnly: (channel) => channelTypes.relativeUrlsOnly(channel),
      tracing,
    })
    push = new WsPush({ bus, registry, channels, scripts: scriptDirectory, executor: () => executor, nodeId, onError })
    opened.push(push)
    sendDeps = { channels, scripts: scriptDirectory, executor, tracing }
    changes.onCommitted((notice) => events.modelChanged(notice))
    const licensing = new Licensing(domains, config.license)

    // The rights a channel's token has decide who reads its secrets (`rights` is made below).
    const channelsDef = integrationPointsCollection(licensing, (domainId, channel) => rights.ofChannel(domainId, channel))
    const collection = (def: CollectionDef) => createCollectionService(def, { store, changes, audit })
    const domainService = collection(domainsCollection((domainId) => files.count(domainId)))
    const scriptService = collection(svcscriptsCollection((lang, source) => runner.problem(lang, source)))
    containment = new Containment({
      scripts: scriptDirectory,
      scriptService,
      logger,
      counted: () => metrics.scripts.tainted(),
      replaceMe:
        options.replaceMe ??
        ((reason) => logger.error({ reason }, 'no supervisor replaces this process: restart it to free the memory')),
    })
    // An accepted async webhook without a record yet shows as queued (from its job).
    let asyncWebhooks: AsyncWebhooks | undefined
    const executionService = collection(
      executionsCollection(async (scope, id) => (scope === null ? undefined : asyncWebhooks?.queued(scope, id))),
    )
    const deliveryService = collection(deliveriesCollection)
    const services = [
      domainService,
      collection(channelTypesCollection(channelsDef)),
      collection(channelsDef),
      scriptService,
      collection(usersCollection),
      collection(apiKeysCollection),
      collection(rolesCollection),
      executionService,
      collection(auditCollection),
      deliveryService,
    ]
    const rights = new AccessRights({
      roles,
      users: keys,
      collectionPaths: new Map(services.filter(({ def }) => !def.master).map(({ def }) => [def.name, def.path])),
    })
    projectApi = new InProcessApi({ domains, channels, rights })

    const firstStart = await ensureBuiltInDomains(store, domainService)
    const rootKey = await ensureRootKey(store.settings, config.adminKey)
    await Promise.all([domains.load(), channels.load(), channelTypes.load(), keys.load(), roles.load(), scriptDirectory.load()])
    // The caches are current: from now on this node confirms changes, so the others may wait for it.
    peers.announce()

    const http = createHttpServer({ logger, bodyLimit: config.restBodyLimit, metrics: metrics.http })
    // The project API's calls, over the network or in process (api.request, the websocket `rest`
    // capability); webhooks have spans of their own (webhook-routes.ts).
    if (tracing) traceServerRequests(http, tracing, { traced: (request) => request.url.startsWith('/rest/'), showPath: true })
    await installOpenApi(http, VERSION)
    installAuthHook(
      http,
      new Authenticator(keys, domains, rights, rootKey.hash, (domainId, keyId) => keyUsage.used(domainId, keyId)),
      projectApi.principal,
    )
    projectApi.attach(http)
    healthRoutes(http, async () => {
      await store.ping()
      await bus.flush()
    })
    // A worker's scrape answers for its whole node: it gathers the other workers' values.
    const gather =
      options.worker &&
      new MetricsGather({
        bus,
        metrics,
        node: nodeId,
        scope: options.worker.epoch,
        workers: config.workers,
        waitMs: 1000,
        onError,
      })
    if (gather) opened.push({ close: async () => gather.close() })
    metricsRoutes(
      http,
      gather ? { contentType: metrics.contentType, render: () => gather.render() } : metrics,
      config.metricsToken,
    )
    typeCheckedSaves(http, scriptService)
    for (const service of services) collectionRoutes(http, service)
    channelRoutes(http, { channels, licensing, store })
    scriptRoutes(http, { scripts: scriptService, channels, executor })
    scriptVersionRoutes(http, scriptService, store)
    const access = new ChannelAccess(channels)
    fileRoutes(http, { files, access, trustProxy: parseIpRanges(config.trustProxy) })
    // A modelevents subscription needs the channel's rights to read the collection (SPEC §8, §10).
    const mayRead = (connection: WsConnection, collection: string) =>
      rights.channelMayRead(connection.domainId, connection.channel, collection)
    const delivery = new EventDelivery({
      bus,
      maxSubscriptions: config.eventsMaxSubscriptions,
      maxBacklogBytes: config.eventsMaxBacklogBytes,
      mayRead,
      logger,
      metrics: metrics.events,
    })
    opened.push(delivery)
    const webhooks = new Webhooks({
      channels,
      access,
      scripts: scriptDirectory,
      executor,
      perChannelLimit: config.webhookConcurrency,
    })
    // A worker that is gone (the supervisor says goodbye for it) leaves its jobs to the others at once.
    const storeQueue = (embedded: StoreJobQueue<QueuedJob>) => {
      peers.onGone((node) => {
        embedded.workerGone(node).catch(onError)
      })
      return embedded
    }
    // One queue for async webhooks and deliveries: the same durability, the same engines.
    const queue: JobQueue<QueuedJob> = nats
      ? await JetStreamJobQueue.open<QueuedJob>(nats.connection, {
          prefix: config.natsPrefix,
          concurrency: config.asyncWorkers,
          closeWaitMs: config.shutdownTimeoutMs,
          ackWaitMs: config.queueAckWaitMs,
          metrics: metrics.queue,
          onError,
        })
      : storeQueue(
          new StoreJobQueue<QueuedJob>(store, {
            concurrency: config.asyncWorkers,
            closeWaitMs: config.shutdownTimeoutMs,
            epoch: options.worker?.epoch ?? randomBytes(8).toString('hex'),
            worker: nodeId,
            metrics: metrics.queue,
            onError,
          }),
        )
    opened.push(queue)
    const dedup = new WebhookDedup({
      store,
      duplicate: (domainId, channel) => metrics.webhooks.duplicate(domainId, channel.code),
      purgeEveryMs: housekeeping ? 60_000 : undefined,
      onError,
    })
    opened.push({ close: async () => dedup.close() })
    asyncWebhooks = new AsyncWebhooks({
      webhooks,
      executor,
      queue,
      maxAttempts: config.asyncAttempts,
      retryBaseMs: config.asyncRetryMs,
      dedup,
    })
    const deliveries = new Deliveries({
      store,
      channels,
      queue,
      egress: new EgressGuard(config.egressAllow),
      metrics: metrics.deliveries,
      tracing,
      onError,
    })
    opened.push({ close: async () => deliveries.close() })
    sendDeps = {
      ...(sendDeps as ChannelsModuleDeps),
      deliver: (domainId, channel, request) => deliveries.deliver(domainId, channel, request),
    }
    deliveryRoutes(http, { deliveries, collection: deliveryService, channels })
    webhookRoutes(http, {
      webhooks,
      trustProxy: parseIpRanges(config.trustProxy),
      bodyLimit: config.webhookBodyLimit,
      accept: (target, input, requestId, trace, accepted) => asyncWebhooks.accept(target, input, requestId, trace, accepted),
      dedup,
      tracing,
      signatureRefused: (target, reason) => metrics.webhooks.refused(target.domainId, target.channel.code, reason),
    })
    await wsRoutes(http, {
      access,
      channels,
      registry,
      handlers: new Map(
        Object.entries({
          ...baseProtocol({
            domains,
            scripts: scriptDirectory,
            executor,
            site: nodeId,
            eventsDropped: (connection) => delivery.dropped(connection),
            tracing,
          }),
          ...svcscriptCapability({ scripts: scriptDirectory, executor, tracing }),
          ...subscrCapability({
            delivery,
            collections: new Set(services.filter((service) => service.def.writable).map((service) => service.def.name)),
            mayRead,
            flush: () => bus.flush(),
          }),
          ...filesCapability({ files }),
          ...restCapability({ api: projectApi }),
        }),
      ),
      gate: new CapabilityGate(rights),
      trustProxy: parseIpRanges(config.trustProxy),
      tracing,
      closing: () =>
        closeCode === 1012
          ? { code: 1012, reason: 'this worker is being replaced; reconnect' }
          : { code: 1001, reason: 'the server is shutting down' },
      lifecycle: {
        opened: (connection) => events.emitChannel(connection.domainId, 'connection_opened', connectionEvent(connection)),
        // A closing connection takes no more events: an eventing channel's go to the others.
        closing: (connection) => delivery.forget(connection),
        closed: (connection) => {
          delivery.forget(connection)
          events.emitChannel(connection.domainId, 'connection_closed', connectionEvent(connection))
        },
      },
      metrics: metrics.ws,
      logger,
      failures: metrics.errors.series('ws_handler'),
      limits: {
        maxFrameBytes: config.wsMaxFrameBytes,
        maxInFlight: config.wsMaxInFlight,
        maxConnectionsPerChannel: config.wsMaxConnectionsPerChannel,
        pingMs: config.wsPingMs,
        maxBufferedBytes: config.wsMaxBufferedBytes,
      },
    })
    const replayDeps = { executions: executionService, webhooks, scripts: scriptDirectory, channels, executor }
    replayRoutes(http, replayDeps)
    bulkReplayRoutes(http, replayDeps)
    trafficRoutes(http, store.table('executions'))
    const census = new ConnectionCensus({ bus, peers, registry, node: nodeId })
    opened.push(census)
    connectionRoutes(http, { census })
    consoleRoutes(http)
    await http.ready()
    let httpClosed: Promise<number> | undefined
    const closeHttp = () => {
      httpClosed ??= closeHttpServer(http, config.shutdownTimeoutMs, closeCode === 1012)
      return httpClosed
    }
    opened.push({ close: async () => void (await closeHttp()) })
    // Jobs left by an earlier run first; each kind to its worker.
    await queue.start((job, stop) =>
      isDeliveryJob(job.payload)
        ? deliveries.run(job as Job<DeliveryJob>, stop)
        : (asyncWebhooks as AsyncWebhooks).run(job as Job<WebhookJob>, stop),
    )
    if (housekeeping) {
      deliveries.requeueOrphans().then((count) => {
        if (count > 0) logger.warn({ count }, 'deliveries stored without their first attempt queued were queued')
      }, onError)
    }

    let closed: Promise<void> | undefined
    const shutdown = async () => {
      const started = performance.now()
      // Stop accepting, with one deadline for the requests and the async jobs in flight. Either's
      // failure comes back from closeAll, which closes both again (their close is idempotent) with the rest.
      const [cut] = await Promise.allSettled([closeHttp(), queue.close()])
      if (cut.status === 'fulfilled' && cut.value > 0) {
        logger.warn({ connections: cut.value }, 'requests still running at the shutdown deadline were cut')
      }
      const errors = await closeAll()
      if (errors.length > 0) throw closeFailure(errors)
      logger.info({ ms: Math.round(performance.now() - started) }, 'shut down')
    }
    return {
      http,
      logger,
      metrics,
      firstStart,
      rootKey,
      nodeId,
      async listen() {
        await http.listen({ host: config.host, port: config.port, ...(options.worker && { reusePort: true }) })
        const address = http.server.address()
        const port = typeof address === 'object' && address ? address.port : config.port
        const host = config.host.includes(':') ? `[${config.host}]` : config.host
        return `http://${host}:${port}`
      },
      close(code: 1001 | 1012 = 1001) {
        if (closed === undefined) closeCode = code
        closed ??= shutdown()
        return closed
      },
    }
  } catch (error) {
    // The start's error is the one to report; the closes' errors, if any, are in the log.
    await closeAll()
    throw error
  }
}

/** The data of a `channelevents` event (SPEC §8). */
function connectionEvent(connection: WsConnection): { channel_id: string; channel_code: string; connectionid: string } {
  return { channel_id: connection.channelId, channel_code: connection.channel.code, connectionid: connection.id }
}

/** The embedded bus of a worker: the supervisor's relay, over the worker's IPC channel. */
function ipcBus(link: WorkerLink, onError: (error: unknown, subject: string) => void, onMalformed: MalformedHandler): IpcBus {
  const bus = new IpcBus({ send: (message) => link.send(message), onError, onMalformed })
  link.onBus((message) => bus.receive(message))
  return bus
}
