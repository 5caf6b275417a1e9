/**
 * Reading a body we do not audit: every byte is read (so the connection stays usable) and thrown
 * away, never buffered, decoded or parsed, up to a bound. A "before" callback answered with a
 * failure can block the user's action (Tencent IM, "Callback Configuration": the before-callback
 * failure policy), so nothing about its content may
 * lead to one.
 */
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

/** Resolves once the whole body has arrived; BODY_TOO_LARGE as soon as it passes `limit` bytes. */
export function discardBody(req: IncomingMessage, limit: number): Promise<void> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new AppError('BODY_TOO_LARGE', `more than ${limit} bytes`));
  if (req.complete) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let seen = 0;
    const done = (err?: AppError) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) done(new AppError('BODY_TOO_LARGE', `more than ${limit} bytes`));
    };
    const onEnd = () => done();
    const onError = () => done(new AppError('BAD_JSON', 'request aborted'));
    const onClose = () => done(req.complete ? undefined : new AppError('BAD_JSON', 'request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
