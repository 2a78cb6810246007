import { type Listed, list, PATHS } from '../api/client.ts'
import type { Script } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'
import { Empty, Loaded } from '../components/states.tsx'
import { Ago } from '../components/status-badge.tsx'

export function Scripts() {
  const scripts = useResource<Listed<Script>>(
    () => list<Script>(PATHS.scripts, { mask: 'id,code,name,lang,opts.title,ext.lwt', limit: 1000 }),
    [],
  )
  return (
    <section>
      <div class="page-head">
        <h1>Scripts</h1>
        <Link href="/scripts/new" class="button primary">
          New script
        </Link>
      </div>
      <Loaded resource={scripts}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>
              <p>No scripts yet. A script is the body of an async function that answers a channel's webhooks and messages.</p>
              <Link href="/scripts/new" class="button primary">
                Write the first script
              </Link>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Code</th>
                    <th scope="col">Language</th>
                    <th scope="col">Changed</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((script) => (
                    <tr key={script.id}>
                      <td>
                        <Link href={`/scripts/${script.id}`}>{script.code}</Link>
                        {(script.opts?.title || script.name) && <div class="sub">{script.opts?.title || script.name}</div>}
                      </td>
                      <td>{script.lang === 'ts' ? 'TypeScript' : 'JavaScript'}</td>
                      <td>
                        <Ago at={script.ext.lwt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </section>
  )
}
