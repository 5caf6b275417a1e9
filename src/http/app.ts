/**
 * The two Koa apps: the public one (the callback path and nothing else) and the admin one
 * (health, readiness, metrics), served on separate listeners.
 */
import Koa from 'koa';
import { Router } from '@koa/router';
import { AppError } from '../errors.js';
import { callbackRoute, type CallbackDeps } from './callback.js';
import type { Guard } from './connections.js';
import { errorReplies } from './reply.js';

export type { Lifecycle } from './reply.js';

export function createApp(deps: CallbackDeps & { guard: Guard }): Koa {
  const app = new Koa();
  const path = deps.config.callbackPath;
  const callback = callbackRoute(deps);
  // strict: `//` is not `/`; the IM console posts to exactly one path.
  const router = new Router({ strict: true });
  router.post(path, callback);
  router.all(path, () => {
    throw new AppError('METHOD_NOT_ALLOWED');
  });
  // The one hot route skips the router's per-request matching and composing (11% of a callback's
  // CPU in a profile, docs/performance.md); the router answers everything else. Replies, errors
  // and `Connection: close` while stopping are errorReplies', around both, in one middleware.
  const isHot = (url: string) => url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63); // '?'
  const routes = router.routes() as Koa.Middleware;
  const dispatch: Koa.Middleware = (ctx, next) => (ctx.req.method === 'POST' && isHot(ctx.req.url ?? '') ? callback(ctx, next) : routes(ctx, next));
  app.use(errorReplies(deps.log, deps.metrics, new Set(deps.callbacks.keys()), deps.lifecycle, deps.guard, dispatch));
  // Koa would print errors to stderr itself; ours are answered and logged in errorReplies.
  app.silent = true;
  return app;
}

export function createAdminApp(deps: Pick<CallbackDeps, 'writer' | 'metrics'> & { connections?: () => number }): Koa {
  const app = new Koa();
  const router = new Router();
  const { writer, metrics } = deps;
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', (ctx) => {
    const ready = writer.ready;
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not ready', queueBytes: writer.queueBytes };
  });
  router.get('/metrics', async (ctx) => {
    metrics.queueBytes.set(writer.queueBytes);
    metrics.waiting.set(writer.waiting);
    if (deps.connections) metrics.connections.set(deps.connections());
    metrics.reopens.set(writer.reopens);
    metrics.ready.set(writer.ready ? 1 : 0);
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  app.use(router.routes());
  app.silent = true;
  return app;
}
