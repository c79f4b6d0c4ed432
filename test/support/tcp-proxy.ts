import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy whose connections a test can cut (a database restart) or black-hole (a
 * silent network drop: connections stay open, nothing gets through either way, nobody is told).
 */
export class TcpProxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  /** Client sockets accepted or kept while black-holed: cut when the hole closes. */
  private readonly swallowed = new Set<Socket>();
  private refusing = false;
  private blackholed = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.refusing) return client.destroy();
      this.track(client);
      if (this.blackholed) {
        // Accepted, and then never a byte in either direction.
        this.swallowed.add(client);
        client.on('data', () => undefined);
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(upstream);
      // Not pipe(): while black-holed, bytes are dropped instead of forwarded.
      client.on('data', (chunk) => (this.blackholed ? this.swallowed.add(client) : upstream.write(chunk)));
      upstream.on('data', (chunk) => (this.blackholed ? this.swallowed.add(client) : client.write(chunk)));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Drops every open connection and refuses new ones for `downMs`, like a server restart. */
  async restart(downMs: number): Promise<void> {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => setTimeout(r, downMs));
    this.refusing = false;
  }

  /**
   * On: every open connection and every new one stays open but nothing is forwarded any more (no
   * reset, no FIN). Off: new connections work again; those that lost bytes are cut, since their
   * protocol state is gone (as after a real partition, once TCP gives up).
   */
  blackhole(on: boolean): void {
    this.blackholed = on;
    if (on) return;
    for (const s of this.swallowed) s.destroy();
    this.swallowed.clear();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => {
      this.sockets.delete(s);
      this.swallowed.delete(s);
    });
    s.on('error', () => undefined);
  }
}
