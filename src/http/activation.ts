/**
 * systemd socket activation (sd_listen_fds(3)): when systemd holds the callback port
 * (member-exit-audit.socket), it hands the listening socket to the service as fd 3 with
 * LISTEN_PID and LISTEN_FDS set. Connections that arrive while the service restarts wait in the
 * kernel's queue for the next process instead of being refused: Tencent does not retry an
 * after-callback that was refused.
 */

/** The first fd systemd passes (SD_LISTEN_FDS_START). */
const FIRST_FD = 3;

/**
 * The listening fd systemd passed this process, or null when it was started any other way (npm
 * start, tests). With several, the one named `callback` (FileDescriptorName=), else the first. The
 * variables are removed, as sd_listen_fds(1) does, so that no child takes them for its own.
 */
export function inheritedListener(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const count = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID !== String(pid) || !Number.isInteger(count) || count < 1) return null;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const named = names.indexOf('callback');
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return FIRST_FD + (named >= 0 && named < count ? named : 0);
}
