/**
 * Addresses and CIDR lists (IPv4 and IPv6), parsed once (net.BlockList). At the bottom floor: the
 * config checks its lists with it at start, the callback route matches with it per request.
 */
import { BlockList, isIP } from 'node:net';

export class CidrError extends Error {}

/** An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, a dual-stack socket) is its IPv4 address. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Build a matcher from `addr` or `addr/prefix` entries (IPv4 and IPv6). Throws CidrError naming the bad one. */
export function cidrList(entries: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', prefix, ...rest] = entry.split('/');
    const family = isIP(addr);
    const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
    if (!family || rest.length || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128) || (prefix !== undefined && !/^[0-9]+$/.test(prefix))) {
      throw new CidrError(`${entry} is not an IPv4 or IPv6 address or CIDR`);
    }
    list.addSubnet(addr, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (ip: string) => {
    const n = normalizeIp(ip);
    const family = isIP(n);
    return family !== 0 && list.check(n, family === 4 ? 'ipv4' : 'ipv6');
  };
}
