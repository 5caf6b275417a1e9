/**
 * SIGHUP from the first instruction (issue #23): its default action ends the process, and a
 * `systemctl reload` or logrotate's postrotate that comes while the service is still starting would
 * stop it (systemd counts SIGHUP a clean exit and does not restart it). Imported first by the
 * entry points, so this runs before any other module: a SIGHUP until the service is up is
 * remembered, and the service reloads once when it is.
 */
let pending = false;
const early = () => {
  pending = true;
};
process.on('SIGHUP', early);

/** Stop catching SIGHUP early; true when one came. The caller now handles SIGHUP itself. */
export function takeEarlyHangup(): boolean {
  process.off('SIGHUP', early);
  return pending;
}

/** For a command that does not handle SIGHUP: back to the default, and one that came is delivered now. */
export function releaseHangup(): void {
  if (takeEarlyHangup()) process.kill(process.pid, 'SIGHUP');
}
