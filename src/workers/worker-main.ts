// Entry point of a worker process (forked by the supervisor, supervisor.ts).
import { runWorker } from './worker.ts'

await runWorker()
