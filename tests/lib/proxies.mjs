// Proxies for the PROXY_URL tests, written here so nothing outside the machine is needed.
import http from 'node:http';
import net from 'node:net';

// An HTTP proxy that tunnels (CONNECT) and forwards (absolute-form), with Basic auth when
// `auth` is given; records what passed: "CONNECT host:port" or "GET /path".
export async function httpProxy(t, auth) {
  const seen = [];
  const sockets = new Set();
  const allowed = (req) => !auth || req.headers['proxy-authorization'] === `Basic ${Buffer.from(auth).toString('base64')}`;
  const server = http.createServer((req, res) => {
    if (!allowed(req)) return res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="t"' }).end();
    const target = new URL(req.url);
    seen.push(`${req.method} ${target.pathname}`);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method,
      path: target.pathname + target.search, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connect', (req, client, head) => {
    sockets.add(client);
    client.on('error', () => {});
    if (!allowed(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"\r\n\r\n');
      return;
    }
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url.split(':');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    up.on('error', () => client.destroy());
    up.on('close', () => client.destroy());
    client.on('close', () => up.destroy());
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const kill = () => { server.close(); for (const s of sockets) s.destroy(); };
  t.after(kill);
  return { url: `http://127.0.0.1:${server.address().port}`, seen, kill };
}

// A SOCKS5 proxy (no authentication, CONNECT only) that resolves the names it is given through
// `hosts`, recording every destination as "host:port".
export async function socksProxy(t, hosts = {}) {
  const seen = [];
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let buf = Buffer.alloc(0);
    let stage = 'greeting';
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 'greeting') {
        if (buf.length < 2 || buf.length < 2 + buf[1]) return;
        buf = buf.subarray(2 + buf[1]);
        client.write(Buffer.from([5, 0]));
        stage = 'request';
      }
      if (stage === 'request') {
        if (buf.length < 5) return;
        let host;
        let end;
        if (buf[3] === 1) { end = 10; host = [...buf.subarray(4, 8)].join('.'); }
        else if (buf[3] === 3) { end = 5 + buf[4] + 2; host = buf.subarray(5, 5 + buf[4]).toString(); }
        else { client.destroy(); return; }
        if (buf.length < end) return;
        const port = buf.readUInt16BE(end - 2);
        const rest = buf.subarray(end);
        stage = 'piping';
        client.off('data', onData);
        seen.push(`${host}:${port}`);
        const up = net.connect(port, hosts[host] ?? host, () => {
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          if (rest.length) up.write(rest);
          client.pipe(up);
          up.pipe(client);
        });
        sockets.add(up);
        up.on('close', () => { sockets.delete(up); client.destroy(); });
        up.on('error', () => client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])));
      }
    };
    client.on('data', onData);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  return { port: server.address().port, seen };
}

