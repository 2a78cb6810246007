import type { ComponentChildren } from 'preact'
import { BASE, navigate } from './router.ts'

/** An in-app link: a real `<a href>` (middle-click, copy link) that navigates without a reload. */
export function Link({
  href,
  children,
  class: className,
  current,
}: {
  href: string
  children: ComponentChildren
  class?: string
  current?: boolean
}) {
  return (
    <a
      href={BASE + href}
      class={className}
      aria-current={current ? 'page' : undefined}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
        event.preventDefault()
        navigate(href)
      }}
    >
      {children}
    </a>
  )
}
