import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { bodyFraming } from './framing.js';

export interface LingerLimits {
  /** How long to keep discarding, in ms. */
  readonly time: number;
  /** How much to discard, in bytes. */
  readonly bytes: number;
}

/**
 * nginx's lingering close, for a request answered before its body was read:
 * read and discard what still arrives so that the client, still writing,
 * reads the answer instead of meeting a reset. Within the limits the body
 * ends and a keep-alive connection stays usable; past them, or when the
 * answer closes the connection, the gateway half-closes (FIN, not RST) and
 * reads on for one more period before letting go.
 */
export function discardBody(req: IncomingMessage, limits: LingerLimits): void {
  if (req.complete || bodyFraming(req).kind === 'none') return;
  const socket = req.socket;
  let seen = 0;
  let release: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearTimeout(deadline);
    if (release || socket.destroyed) return;
    socket.end();
    release = setTimeout(() => socket.destroy(), limits.time);
    release.unref();
  };
  const deadline = setTimeout(stop, limits.time);
  deadline.unref();
  // An answer that closes the connection (the client asked for it, or the
  // gateway drains) makes Node destroy the socket as soon as the answer is
  // written, and the client's next write meets a reset: half-close instead.
  socket.destroySoon = stop;
  const done = (): void => {
    clearTimeout(deadline);
    clearTimeout(release);
    socket.off('close', done);
    socket.destroySoon = Socket.prototype.destroySoon;
  };
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limits.bytes) stop();
  });
  // A body that was piped to an origin that failed was unpiped, which pauses it: read on.
  req.resume();
  // Within the limits the body ends and the connection stays in use: let go of it.
  req.once('end', () => {
    if (!release) done();
  });
  socket.once('close', done);
}
