// The workload of the script and webhook benchmarks: a ~1 KB order, and the transform every
// runner does to it (total 12 items, answer JSON) — as a script body and as plain JS.

export interface Order {
  readonly order: string
  readonly items: readonly { readonly price: number; readonly qty: number }[]
}

/** The order as JSON text (~860 bytes). */
export const ORDER_JSON = JSON.stringify({
  order: 'A-1001',
  customer: { id: 42, name: 'Ada Lovelace', email: 'ada@example.com' },
  items: Array.from({ length: 12 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    title: `Item number ${i}`,
    price: 1.25 * (i + 1),
    qty: (i % 3) + 1,
  })),
})

/** The transform in plain JS: the baseline. */
export function transform(order: Order): { order: string; total: number; count: number } {
  let total = 0
  for (const item of order.items) total += item.price * item.qty
  return { order: order.order, total, count: order.items.length }
}

/** The same transform as a service script body, reading the order from `orderExpression`. */
export function transformSource(orderExpression: string): string {
  return `const order = ${orderExpression}
let total = 0
for (const item of order.items) total += item.price * item.qty
return { order: order.order, total, count: order.items.length }`
}
