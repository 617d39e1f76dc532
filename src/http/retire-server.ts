import type { Server } from 'node:http';
import { once } from 'node:events';

/**
 * Stops `server` accepting and resolves once it has closed: idle
 * connections close now, busy ones after the answer they are writing, and
 * whatever is still open after `timeout` is closed.
 */
export async function retireServer(server: Server, timeout: number): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  const deadline = setTimeout(() => server.closeAllConnections(), timeout);
  deadline.unref();
  await closed;
  clearTimeout(deadline);
}
