import { createHash } from 'node:crypto';

/**
 * x-signature: SHA-1 of the query string followed by the secret key, upper-case hex
 * (docs.gpas.live, "Sessions": walletId=2sdflsd + Ax34deSfgdB → 8F0F3379F1C6CC24DF5A4DC2A937061102487C46).
 */
export function walletSignature(queryString: string, secretKey: string): string {
  return createHash('sha1')
    .update(queryString + secretKey, 'utf8')
    .digest('hex')
    .toUpperCase();
}
