// Entry point of a script host process (forked by ScriptHosts).
import { runScriptHost } from './script-host.ts'

runScriptHost()
