// The worker entry of `switchboard serve`, except that the worker in slot 1 dies as it starts
// (a fault injected as a crash would be): for the supervisor's start-up test.
if (process.env.SWITCHBOARD_WORKER_INDEX === '1') process.exit(3)
await import('../../src/workers/worker-main.ts')
