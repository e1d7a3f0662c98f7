// A small WebSocket client for tests (RFC 6455 over node:net): the upgrade with any headers,
// masked text frames out, text and close frames in, so a test sees exactly what a server sends
// (status of a refused upgrade, close codes) without a dependency.
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function wsConnect(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const key = randomBytes(16).toString('base64');
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    const frames = [];
    let waiter = null;
    let closed = false;
    let closeCode = null;
    let partial = [];
    const wake = () => {
      if (waiter && (frames.length || closed)) {
        const w = waiter;
        waiter = null;
        clearTimeout(w.timer);
        w.resolve(frames.length ? frames.shift() : null);
      }
    };
    const parseFrames = () => {
      for (;;) {
        if (buffer.length < 2) return;
        const fin = (buffer[0] & 0x80) !== 0;
        const opcode = buffer[0] & 0x0f;
        let len = buffer[1] & 0x7f;
        let offset = 2;
        if (len === 126) {
          if (buffer.length < 4) return;
          len = buffer.readUInt16BE(2);
          offset = 4;
        } else if (len === 127) {
          if (buffer.length < 10) return;
          len = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + len) return;
        const payload = buffer.subarray(offset, offset + len);
        buffer = buffer.subarray(offset + len);
        if (opcode === 8) {
          closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          closed = true;
          socket.end();
        } else if (opcode === 9) {
          sendFrame(0xa, payload);
        } else if (opcode === 1 || opcode === 0) {
          partial.push(payload);
          if (fin) {
            frames.push(Buffer.concat(partial).toString('utf8'));
            partial = [];
          }
        }
      }
    };
    const sendFrame = (opcode, payload) => {
      const mask = randomBytes(4);
      const len = payload.length;
      const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len])
        : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
          : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
      const masked = Buffer.from(payload);
      for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i % 4];
      socket.write(Buffer.concat([head, mask, masked]));
    };
    socket.on('connect', () => {
      const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('data', (d) => {
      buffer = Buffer.concat([buffer, d]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        const status = Number(head.split(' ')[1]);
        buffer = buffer.subarray(end + 4);
        if (status !== 101) {
          resolve({ status, head, body: buffer.toString('utf8') });
          socket.destroy();
          return;
        }
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
          reject(new Error(`bad Sec-WebSocket-Accept in ${head}`));
          return;
        }
        upgraded = true;
        resolve({
          status,
          send: (text) => sendFrame(1, Buffer.from(text, 'utf8')),
          // The next text frame, or null once the server closed the socket.
          next(timeoutMs = 5000) {
            return new Promise((res, rej) => {
              waiter = { resolve: res, timer: setTimeout(() => rej(new Error('no frame in time')), timeoutMs) };
              wake();
            });
          },
          close: () => { sendFrame(8, Buffer.from([0x03, 0xe8])); socket.end(); },
          destroy: () => socket.destroy(),
          get closeCode() { return closeCode; },
          get closed() { return closed; },
        });
      }
      parseFrames();
      wake();
    });
    socket.on('close', () => { closed = true; wake(); });
    socket.on('error', (e) => { if (!upgraded) reject(e); closed = true; wake(); });
  });
}
