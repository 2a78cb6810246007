import { createHmac } from 'node:crypto'
import type { DeliverOpts } from '../channels/channel-schemas.ts'

/** How long the previous secret signs after a change, by default: a day. */
const DEFAULT_ROTATION_S = 86_400

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` (the delivery's, the same on every
 * attempt), `webhook-timestamp` (now, seconds) and `webhook-signature` — `v1,<base64>` of
 * HMAC-SHA256 over `<id>.<timestamp>.<body>` with the channel's secret, and with the previous
 * secret too while the rotation lasts, space-separated.
 */
export function signedHeaders(
  settings: DeliverOpts,
  deliveryId: string,
  body: string,
  nowMs: number,
): { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string } {
  const timestamp = String(Math.floor(nowMs / 1000))
  const secrets = [settings.secret as string]
  const { previous_secret: previous, rotated_at: rotatedAt } = settings
  if (previous !== undefined && rotatedAt !== undefined) {
    const until = Date.parse(rotatedAt) + (settings.rotation_s ?? DEFAULT_ROTATION_S) * 1000
    if (nowMs < until) secrets.push(previous)
  }
  const signature = secrets
    .map(
      (secret) =>
        `v1,${createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
          .update(`${deliveryId}.${timestamp}.`)
          .update(body)
          .digest('base64')}`,
    )
    .join(' ')
  return { 'webhook-id': deliveryId, 'webhook-timestamp': timestamp, 'webhook-signature': signature }
}
