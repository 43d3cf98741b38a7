import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Duplex } from 'node:stream';

/**
 * Requests Node's HTTP parser refuses before Express sees them (headers or URL past the 16 KB limit,
 * a malformed request line) still get the contract's error envelope and an X-Request-Id, not a bare
 * status line: 431 when the head is too large, 400 otherwise.
 */
export function answerClientErrors(server: http.Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || (error.code === 'ECONNRESET' && socket.destroyed)) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const requestId = randomUUID();
    const body = JSON.stringify({
      error: {
        code: tooLarge ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION_ERROR',
        message: tooLarge ? 'The request line or headers are too large' : 'The HTTP request is malformed',
        requestId,
      },
    });
    const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(
      `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
