import t from 'tap';
import { inheritedListener } from '../../src/http/activation.js';

t.test('the fd systemd passed, only to the process it was passed to', async (t) => {
  t.equal(inheritedListener({}, 42), null, 'started by hand: none');
  t.equal(inheritedListener({ LISTEN_PID: '41', LISTEN_FDS: '1' }, 42), null, "another process's: none");
  t.equal(inheritedListener({ LISTEN_PID: '42', LISTEN_FDS: '0' }, 42), null);
  t.equal(inheritedListener({ LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42), null);
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '1', LISTEN_FDNAMES: 'callback', OTHER: 'kept' };
  t.equal(inheritedListener(env, 42), 3, 'fd 3');
  t.same(env, { OTHER: 'kept' }, 'the variables are removed, so no child takes them');
  t.equal(inheritedListener({ LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'admin:callback' }, 42), 4, 'the one named callback');
  t.equal(inheritedListener({ LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' }, 42), 3, 'unnamed: the first');
});
