import * as net from 'net';

/**
 * A TCP proxy in front of the FCM simulator. In `reset` mode it answers every open and new connection
 * with a TCP RST, as a flaky network or load balancer would; in `pass` mode it forwards bytes (TLS untouched).
 */
export class FaultProxy {
  private mode: 'pass' | 'reset' = 'pass';
  private readonly sockets = new Set<net.Socket>();
  resets = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<FaultProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => proxy.accept(client, targetPort));
    return proxy;
  }

  setMode(mode: 'pass' | 'reset'): void {
    this.mode = mode;
    if (mode === 'reset') for (const s of [...this.sockets]) this.reset(s);
  }

  private reset(socket: net.Socket): void {
    this.resets++;
    this.sockets.delete(socket);
    socket.resetAndDestroy();
  }

  private accept(client: net.Socket, targetPort: number): void {
    if (this.mode === 'reset') return this.reset(client);
    const upstream = net.connect(targetPort, '127.0.0.1');
    this.sockets.add(client);
    const close = () => {
      this.sockets.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
