/**
 * Callback authentication (Tencent IM, "Third-Party Callback Overview"): Sign = lowercase hex SHA-256 of the token
 * immediately followed by RequestTime, as text. A RequestTime further than maxSkewSeconds from now
 * is a replay. Errors never carry the token or the expected sign.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';

const SIGN = /^[0-9a-f]{64}$/;
const TIME = /^[0-9]{1,12}$/;

/** The Sign the IM backend computes for this token and RequestTime (one-shot: no Hash object a request). */
export function sign(token: string, requestTime: string): string {
  return hash('sha256', token + requestTime, 'hex');
}

/**
 * Throws AppError(AUTH_*) unless Sign and RequestTime are present, well formed, fresh, and made
 * with one of the app's tokens (several during a token rotation; each is compared in full).
 */
export function checkSign(
  tokens: readonly string[],
  signParam: string | undefined,
  timeParam: string | undefined,
  nowMs: number,
  maxSkewSeconds: number,
): void {
  if (signParam === undefined || timeParam === undefined) throw new AppError('AUTH_MISSING');
  if (!SIGN.test(signParam)) throw new AppError('AUTH_MALFORMED', 'Sign must be 64 lowercase hex characters');
  if (!TIME.test(timeParam)) throw new AppError('AUTH_MALFORMED', 'RequestTime must be Unix seconds');
  const skew = Math.abs(Number(timeParam) - nowMs / 1000);
  if (skew > maxSkewSeconds) throw new AppError('AUTH_STALE', `more than ${maxSkewSeconds} s from the server clock`);
  const given = Buffer.from(signParam, 'latin1');
  let ok = false;
  for (const token of tokens) ok = timingSafeEqual(Buffer.from(sign(token, timeParam), 'latin1'), given) || ok;
  if (!ok) throw new AppError('AUTH_BAD_SIGN');
}
