import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A plain TCP forwarder to a real server (an API server, PostgreSQL) that a test can cut, slow down or
 * black-hole, to make it unreachable or late without touching the server itself.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  let delayMs = 0;
  let blackholed = false;

  /** Forwards in order, each chunk `delayMs` after it arrived; drops it while black-holed. */
  function forward(from: Socket, to: Socket): void {
    let queue = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (blackholed) return;
      const dueAt = Date.now() + delayMs;
      queue = queue.then(async () => {
        const wait = dueAt - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => {
      if (!blackholed) void queue.then(() => to.end());
    });
  }

  async function open(): Promise<void> {
    blackholed = false;
    server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      // A close travels on like the data does, unless the link is black-holed.
      client.on('close', () => blackholed || upstream.destroy());
      upstream.on('close', () => blackholed || client.destroy());
      forward(client, upstream);
      forward(upstream, client);
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  }

  /** Refuses connections and closes the open ones: the far side sees the connection end. */
  async function cut(): Promise<void> {
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }

  await open();
  return {
    port: () => port,
    cut,
    restore: open,
    /** From now on every byte arrives `ms` later, in order, in both directions. */
    delay(ms: number): void {
      delayMs = ms;
    },
    /**
     * A partition: bytes vanish in both directions while every connection stays open and no close is
     * ever seen, as when packets are lost on the way. New connections are accepted and go silent too.
     */
    blackhole(): void {
      blackholed = true;
    },
  };
}
