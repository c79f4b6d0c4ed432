import { createHash, randomUUID } from 'node:crypto';

/**
 * The Idempotency-Key the broker sends to a gateway for one device request: the same on every
 * retry the broker makes, and, when the device sent its own Idempotency-Key, the same for the
 * device's retries of that request too (so a call that timed out after the gateway acted gets the
 * gateway's stored answer, not a second session). A UUID v4 in form, as gateways require.
 */
export function outboundIdempotencyKey(deviceId: string, deviceKey: string | undefined): string {
  if (deviceKey === undefined) return randomUUID();
  const b = createHash('sha256').update('pos-session-broker/outbound-idempotency\0').update(deviceId).update('\0').update(deviceKey).digest();
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
