/**
 * V8 settings the service sets for itself, before it allocates anything of a request.
 *
 * Allocation-site pretenuring off (issue #24). V8 tenures a hot allocation site once most of its
 * objects survive a scavenge, and from then on allocates that site's objects straight in old
 * space. Under the callback load some of the service's request-path sites tip over: those objects
 * die young but sit in old space until a mark-compact, and the young objects they point to
 * (the request, its body, its lines) survive every scavenge through them. Measured with
 * `--trace-gc-nvp` at 64 connections, fsync: ~250-300 KB promoted per scavenge (85% of what
 * survives; the minimal Koa peer promotes nothing), 7-10 mark-compacts in 5 s; with pretenuring
 * off: ~33 KB (the resend window's ids, which really do live on), +15-20% req/s, peak RSS 205-216
 * -> 147-154 MB. Node refuses the flag in NODE_OPTIONS, so the unit cannot carry it: the process
 * sets it here, which also covers `npm start` and `npx member-exit-audit serve`.
 */
import v8 from 'node:v8';

/** What `tuneHeap` hands to V8, in order. */
export const V8_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring'];

/** Set the service's V8 flags; the first thing `serve` does. */
export function tuneHeap(): void {
  for (const flag of V8_FLAGS) v8.setFlagsFromString(flag);
}
