/** A pino logger that keeps its records in memory, for asserting what was logged. */
import { pino, type Logger } from 'pino';

export function memoryLog(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => records.push(JSON.parse(s)) });
  return { log, records };
}
