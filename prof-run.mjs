import { pino } from 'pino';
import { loadConfig } from './dist/config.js';
import { startService } from './dist/service.js';
const svc = await startService(loadConfig(), pino({ level: 'warn' }));
console.log(JSON.stringify({ msg: 'listening', port: svc.port }));
process.on('SIGTERM', async () => { await svc.stop(); process.exit(0); });
