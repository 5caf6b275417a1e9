/**
 * The query string, parsed once per request. Koa's `ctx.query` costs several percent of a
 * callback's CPU (URLSearchParams, then an object copy); the IM backend sends five to seven plain
 * parameters, so a split is enough. A repeated name gives an array, refused by the callback route.
 */
import { AppError } from '../errors.js';

export type Query = Record<string, string | string[]>;

const decode = (s: string) => {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new AppError('BAD_QUERY', 'malformed percent-encoding');
  }
};

export function parseQuery(url: string): Query {
  const q: Query = Object.create(null);
  const start = url.indexOf('?');
  if (start === -1) return q;
  for (const pair of url.slice(start + 1).split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const had = q[name];
    q[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return q;
}
