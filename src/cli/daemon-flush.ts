/** Asks a running daemon to flush, so a reader of the database sees what the daemon holds in memory. */
import type { Context } from './common.js';
import { connectDaemon } from './control-client.js';

/** Returns true when a daemon was reached and flushed; false when none runs. Errors other than "not running" propagate. */
export async function flushDaemonIfRunning(ctx: Context): Promise<boolean> {
  const client = await connectDaemon(ctx.config, ctx.dbPath, ctx.socket);
  if (!client) return false;
  try {
    await client.request('flush', {}, 60_000);
    return true;
  } finally {
    client.close();
  }
}
