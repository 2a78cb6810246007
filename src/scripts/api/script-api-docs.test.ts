import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { scriptParameters } from '../runtime/guest-prelude.ts'
import { LOCAL_MODULE_NAMES } from './local-modules.ts'

it('declares in docs/switchboard-script.d.ts exactly the names a script is given', () => {
  const declarations = readFileSync(new URL('../../../docs/switchboard-script.d.ts', import.meta.url), 'utf8')
  const declared = [...declarations.matchAll(/^declare (?:const|function|namespace) (\w+)/gm)].map((match) => match[1])
  // The local modules, and the modules of the main process (app.ts passes them to the hosts).
  assert.deepEqual(declared.sort(), scriptParameters([...LOCAL_MODULE_NAMES, 'ws', 'events', 'channels', 'files', 'api']).sort())
})
