/**
 * A client that sends its request slowly over a raw socket: the head, then a
 * piece every `everyMs`, and never anything else. `closed` resolves when the
 * server closes the connection, with what the server had answered.
 */
import { connect } from 'node:net';

export interface SlowClient {
  /** Resolves once the connection is closed (by the server: this client never closes it first). */
  readonly closed: Promise<{ answer: string; reset: boolean }>;
  /** Bytes of the body sent so far. */
  sent(): number;
  /** Stops sending and closes the connection (clean-up). */
  stop(): void;
}

export function slowClient(port: number, head: string, piece: { bytes: string; everyMs: number; count?: number }): SlowClient {
  const socket = connect({ port, host: '127.0.0.1' });
  let answer = '';
  let reset = false;
  let sent = 0;
  let pieces = 0;
  let timer: NodeJS.Timeout | null = null;
  const stopSending = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (answer += d));
  socket.on('error', () => (reset = true));
  socket.once('connect', () => {
    socket.write(head);
    timer = setInterval(() => {
      if (piece.count !== undefined && pieces >= piece.count) return stopSending();
      if (socket.destroyed || !socket.writable) return stopSending();
      socket.write(piece.bytes);
      pieces++;
      sent += Buffer.byteLength(piece.bytes);
    }, piece.everyMs);
  });
  const closed = new Promise<{ answer: string; reset: boolean }>((resolve) =>
    socket.once('close', () => {
      stopSending();
      resolve({ answer, reset });
    }),
  );
  return {
    closed,
    sent: () => sent,
    stop() {
      stopSending();
      socket.destroy();
    },
  };
}

/** The head of a POST whose body is `length` bytes long. */
export function postHead(path: string, length: number, contentType = 'application/json', extra: Record<string, string> = {}): string {
  const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Content-Type: ${contentType}`, `Content-Length: ${length}`, ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}
