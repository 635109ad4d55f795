import net from 'node:net';
import { afterEach, beforeEach } from 'vitest';

export type ProxyMode = 'forward' | 'refuse' | 'hang' | 'delay';

/**
 * A TCP proxy in front of the test server, to misbehave on demand without touching the shared
 * server: `refuse` (nothing listens: ECONNREFUSED), `hang` (accepts, never answers), `delay`
 * (forwards, but holds the server's bytes back for `delayMs`), and `cutAll()` (drops every open
 * connection, as a server restart or a network cut does).
 */
export class TcpProxy {
  mode: ProxyMode = 'forward';
  delayMs = 0;
  readonly #target: { host: string; port: number };
  #server: net.Server | undefined;
  #port = 0;
  readonly #sockets = new Set<net.Socket>();
  /** While replies are held: the writes to make, in order, once they are let through. */
  #held: Array<() => void> | undefined;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  get port(): number {
    return this.#port;
  }

  /** Connections the proxy holds open now (client side). */
  get openConnections(): number {
    let n = 0;
    for (const s of this.#sockets) if ((s as net.Socket & { __client?: boolean }).__client) n++;
    return n;
  }

  async start(): Promise<void> {
    await this.#listen(0);
  }

  async setMode(mode: ProxyMode): Promise<void> {
    this.mode = mode;
    if (mode === 'refuse' && this.#server) {
      const server = this.#server;
      this.#server = undefined;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    } else if (mode !== 'refuse' && !this.#server) {
      await this.#listen(this.#port);
    }
  }

  /**
   * Holds back what the server sends, on every connection, open or new, until the returned function
   * is called: a server that stopped answering while its connections stay up.
   */
  holdReplies(): () => void {
    this.#held ??= [];
    return () => {
      const held = this.#held ?? [];
      this.#held = undefined;
      for (const write of held) write();
    };
  }

  cutAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  async stop(): Promise<void> {
    this.cutAll();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #listen(port: number): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.#port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  #accept(client: net.Socket): void {
    (client as net.Socket & { __client?: boolean }).__client = true;
    this.#track(client);
    client.on('error', () => {});
    if (this.mode === 'hang') {
      // Read and drop what the client sends, so that its close is seen (a paused socket never ends).
      client.resume();
      return;
    }
    const upstream = net.connect(this.#target.port, this.#target.host);
    this.#track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (chunk) => upstream.write(chunk));
    const delay = this.mode === 'delay' ? this.delayMs : 0;
    upstream.on('data', (chunk) => {
      if (this.#held !== undefined) this.#held.push(() => client.destroyed || client.write(chunk));
      else if (delay > 0) setTimeout(() => client.destroyed || client.write(chunk), delay);
      else client.write(chunk);
    });
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

/** A proxy in front of `target`, started before each test of the file and stopped after it: call the result for the current one. */
export function proxyPerTest(target: { host: string; port: number }): () => TcpProxy {
  let current: TcpProxy | undefined;
  beforeEach(async () => {
    current = new TcpProxy(target);
    await current.start();
  });
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  return () => current!;
}
