import http from 'node:http';
import { AddressInfo } from 'node:net';
import express from 'express';
import { eventually } from './eventually';

/** One Server-Sent Events message as a browser's EventSource would dispatch it. */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
  /** When the client received it (ms since the epoch). */
  at: number;
}

/** A stream read as an EventSource reads it: messages parsed, comments (heartbeats) kept apart. */
export interface SseConnection {
  status: number;
  headers: Headers;
  /** The JSON body of an answer that is not a stream (an error). */
  error?: { code: string; message: string; details?: Array<{ field?: string; message: string }> };
  messages: SseMessage[];
  comments: string[];
  /** Resolves once `count` messages of `type` (any type when omitted) have arrived. */
  waitFor(count: number, type?: string, timeoutMs?: number): Promise<SseMessage[]>;
  /** Whether the server has ended the stream. */
  ended(): boolean;
  close(): void;
}

/** Serves the app on a free port (an SSE client needs a real socket), for the duration of a test file. */
export async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Opens `url` as an EventSource would (Accept: text/event-stream), with the given headers. */
export async function openSse(url: string, headers: Record<string, string>): Promise<SseConnection> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const connection: SseConnection = {
    status: res.status,
    headers: res.headers,
    messages: [],
    comments: [],
    waitFor: async (count, type, timeoutMs = 10_000) => {
      const matching = () => connection.messages.filter((message) => !type || message.event === type);
      await eventually(() => matching().length >= count, timeoutMs, `${count} ${type ?? 'message'}(s) on the stream`);
      return matching();
    },
    ended: () => done,
    close: () => abort.abort(),
  };
  let done = false;
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    connection.error = ((await res.json()) as { error: SseConnection['error'] }).error;
    done = true;
    return connection;
  }
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          parseBlock(block, connection);
        }
      }
    } catch {
      // Aborted by close(): the test is done with the stream.
    } finally {
      done = true;
    }
  })();
  return connection;
}

function parseBlock(block: string, connection: SseConnection): void {
  const message: SseMessage = { event: 'message', data: '', at: Date.now() };
  let hasData = false;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) connection.comments.push(line.slice(1).trim());
    else if (line.startsWith('id: ')) message.id = line.slice(4);
    else if (line.startsWith('event: ')) message.event = line.slice(7);
    else if (line.startsWith('data: ')) {
      message.data += (hasData ? '\n' : '') + line.slice(6);
      hasData = true;
    }
  }
  if (hasData) connection.messages.push(message);
}
