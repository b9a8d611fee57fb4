/** Asks a running daemon to flush, so a reader of the database sees what the daemon holds in memory. */
import { writerLockHolder } from '../storage/lock.js';
import type { Context } from './common.js';
import { connectDaemon } from './control-client.js';

/** Returns true when a daemon was reached and flushed; false when none runs. Errors other than "not running" propagate. */
export async function flushDaemonIfRunning(ctx: Context): Promise<boolean> {
  const client = await connectDaemon(ctx.config, ctx.dbPath, ctx.socket);
  if (!client) {
    // Running, but not reachable (another control_socket, a socket it could not create): what it
    // holds in memory is not in the file yet. Said, so nobody takes the result for complete.
    const holder = writerLockHolder(ctx.dbPath);
    if (holder !== null) {
      process.stderr.write(`sensorctl: warning: sensord (pid ${holder}) holds ${ctx.dbPath} but does not answer on its control socket ` +
        '(pass --socket, or check control_socket in the config); reading the database as of its last flush\n');
    }
    return false;
  }
  try {
    await client.request('flush', {}, 60_000);
    return true;
  } finally {
    client.close();
  }
}
