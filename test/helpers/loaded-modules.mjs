// Preloaded with `--import` into a built service (test/build.test.ts): when the process exits,
// the list of Node.js's own modules it loaded goes to $LOADED_MODULES_FILE.
import { writeFileSync } from 'node:fs';

process.on('exit', () => writeFileSync(process.env.LOADED_MODULES_FILE, process.moduleLoadList.join('\n') + '\n'));
