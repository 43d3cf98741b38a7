import net from 'node:net';

/**
 * A minimal SMTP server for tests: accepts mail, except for recipients starting with `bounce` (550),
 * and keeps what it got. Enough of RFC 5321 for nodemailer without TLS or authentication.
 */
export class FakeSmtp {
  readonly messages: Array<{ to: string[]; data: string }> = [];
  port = 0;
  private readonly server = net.createServer((socket) => {
    let to: string[] = [];
    let data: string[] | undefined;
    let buffer = '';
    socket.write('220 fake-smtp ready\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let end = buffer.indexOf('\r\n');
      while (end >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (data) {
          if (line === '.') {
            this.messages.push({ to, data: data.join('\n') });
            data = undefined;
            to = [];
            socket.write('250 queued\r\n');
          } else data.push(line);
        } else if (/^(EHLO|HELO)/i.test(line)) socket.write('250 fake-smtp\r\n');
        else if (/^MAIL FROM/i.test(line)) socket.write('250 ok\r\n');
        else if (/^RCPT TO/i.test(line)) {
          const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
          if (address.startsWith('bounce')) socket.write('550 no such mailbox\r\n');
          else {
            to.push(address);
            socket.write('250 ok\r\n');
          }
        } else if (/^DATA/i.test(line)) {
          data = [];
          socket.write('354 go ahead\r\n');
        } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
        end = buffer.indexOf('\r\n');
      }
    });
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
