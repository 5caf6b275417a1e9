/**
 * Who is calling: the socket's address, or the X-Forwarded-For entry a trusted proxy added. The
 * allowlist and proxy lists are matched with src/cidr.ts.
 */
import { normalizeIp } from '../cidr.js';

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy; then the rightmost
 * X-Forwarded-For entry that is not itself a trusted proxy (entries further left are client-supplied).
 */
export function clientAddress(socketIp: string, forwardedFor: string | undefined, trusted: (ip: string) => boolean): string {
  let ip = normalizeIp(socketIp);
  if (!forwardedFor || !trusted(ip)) return ip;
  const hops = forwardedFor.split(',').map((s) => normalizeIp(s.trim()));
  for (let i = hops.length - 1; i >= 0; i--) {
    ip = hops[i]!;
    if (!trusted(ip)) break;
  }
  return ip;
}
