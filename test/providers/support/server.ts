/**
 * A real node:http server on port 0, scripted per request: each incoming
 * request (read to the end) is handed to the next scripted handler and
 * recorded with its raw bytes.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Header names as the client wrote them (case kept). */
  rawHeaderNames: string[];
  body: Buffer;
  /** Remote port of the client's socket: equal across requests on one kept-alive socket. */
  remotePort: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface ScriptedServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Sockets opened by clients so far. */
  connections(): number;
  /** Queues handlers for the next requests, in order. */
  script(...handlers: Handler[]): void;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/** A handler that answers with a fixed reply. */
export function reply(r: Reply): Handler {
  return (_req, res) => {
    res.writeHead(r.status, { 'content-type': 'application/json; charset=utf-8', ...(r.headers ?? {}) });
    res.end(r.body);
  };
}

/** Reads the whole request, then drops the connection without answering. */
export const destroyAfterRead: Handler = (req) => {
  req.socket.destroy();
};

/** Reads the whole request and never answers. */
export const neverAnswer: Handler = () => undefined;

/** Sends the headers of a 200, then stalls the body. */
export const stallBody: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
  res.write('{"ret":');
};

export async function startScriptedServer(): Promise<ScriptedServer> {
  const queue: Handler[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let opened = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaderNames: req.rawHeaders.filter((_, i) => i % 2 === 0),
        body,
        remotePort: req.socket.remotePort ?? -1,
      });
      const handler = queue.shift();
      if (handler) handler(req, res, body);
      else {
        res.writeHead(418, { 'content-type': 'text/plain' });
        res.end('unscripted request');
      }
    });
  });
  server.on('connection', (s: Socket) => {
    opened++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => opened,
    script: (...handlers) => void queue.push(...handlers),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on: bound, then closed. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
