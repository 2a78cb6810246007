/** Anything the composition root opens: a store, a bus, a queue, the HTTP server. */
export interface Closable {
  close(): Promise<void> | void
}

/**
 * What the composition root opened, closed in reverse order of opening. A close() that throws
 * does not stop the others: one broken part must not leave the bus and the store open. The
 * failures are answered together, once everything was tried.
 */
export class CloseStack {
  readonly #resources: Closable[] = []

  push(resource: Closable): void {
    this.#resources.push(resource)
  }

  /**
   * Closes everything pushed so far, newest first, each once. Answers the errors of the closes
   * that failed, in the order they happened (none: all closed); it never throws.
   */
  async close(): Promise<unknown[]> {
    const errors: unknown[] = []
    for (const resource of this.#resources.splice(0).reverse()) {
      try {
        await resource.close()
      } catch (error) {
        errors.push(error)
      }
    }
    return errors
  }
}

/** The error to throw for failed closes: AggregateError keeps each one, with its stack and cause. */
export function closeFailure(errors: readonly unknown[]): AggregateError {
  const what = errors.map((error) => (error instanceof Error ? error.message : String(error))).join('; ')
  return new AggregateError(errors, `${errors.length} part(s) failed to close: ${what}`)
}
