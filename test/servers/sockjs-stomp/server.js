// A SockJS endpoint (sockjs-node) at /stomp that speaks STOMP 1.0-1.2, as
// Spring's withSockJS() endpoints do, for wsmon's stomp adapter tests.
//
// The broker is small but follows the STOMP spec where wsmon depends on
// it: frames end with NUL, content-length counts bytes (bodies may hold
// NUL), header values are escaped from 1.1 on (not in CONNECT/CONNECTED),
// heart-beats are negotiated (max of both sides, 0 disables) and a client
// silent for twice its interval is dropped, receipts are sent on request,
// and /topic/* destinations fan out to their subscribers.
//
//   node server.js --port N [--login u --passcode p] [--heart-beat ms]
//                  [--sockjs-heartbeat ms]
//
// HTTP on the same port:
//   POST /publish  [{"destination":..., "body":..., "headers":{...}}]
//                  broadcast as MESSAGE frames
//   GET  /stats    {"connections":n, "subscriptions":n, "connects":n}
'use strict';

const http = require('http');
const sockjs = require('sockjs');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const port = Number(arg('port', '0'));
const login = arg('login', '');
const passcode = arg('passcode', '');
const heartBeat = Number(arg('heart-beat', '0')); // ms, both directions
const sockjsHeartbeat = Number(arg('sockjs-heartbeat', '25000'));

const conns = new Set();
let connects = 0;
let nextMessage = 1;
// Message ids are unique across restarts too, as a real broker's are
// (RabbitMQ's name the session): a prefix per process.
const idPrefix = Math.random().toString(36).slice(2, 8);

function escape(v, s) {
  if (v === '1.0') return s;
  let out = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/:/g, '\\c');
  if (v === '1.2') out = out.replace(/\r/g, '\\r');
  return out;
}

function unescape(v, s) {
  if (v === '1.0') return s;
  return s.replace(/\\(.)/g, (m, c) => ({ n: '\n', r: '\r', c: ':', '\\': '\\' }[c] ?? m));
}

// encode returns a frame as a string (UTF-8 bodies: every body here came
// in as a string).
function encode(v, command, headers, body) {
  const bodyBytes = Buffer.from(body || '', 'utf8');
  let s = command + '\n';
  const raw = command === 'CONNECTED' || command === 'CONNECT';
  for (const [k, val] of headers) {
    s += (raw ? k : escape(v, k)) + ':' + (raw ? val : escape(v, String(val))) + '\n';
  }
  if (body !== undefined) s += 'content-length:' + bodyBytes.length + '\n';
  return s + '\n' + bodyBytes.toString('utf8') + '\0';
}

class Conn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.version = '1.0';
    this.connected = false;
    this.subs = new Map(); // id -> destination
    this.lastRecv = Date.now();
    this.timers = [];
    sock.on('data', (d) => this.data(d));
    sock.on('close', () => this.closed());
  }

  send(frame) { this.sock.write(frame); }

  error(message, body, receipt) {
    const h = [['message', message], ['content-type', 'text/plain']];
    if (receipt) h.push(['receipt-id', receipt]);
    this.send(encode(this.version, 'ERROR', h, body));
    setTimeout(() => this.sock.close(), 50);
  }

  closed() {
    this.timers.forEach(clearInterval);
    conns.delete(this);
  }

  data(d) {
    this.lastRecv = Date.now();
    this.buf = Buffer.concat([this.buf, Buffer.from(d, 'utf8')]);
    for (;;) {
      let i = 0;
      while (i < this.buf.length && (this.buf[i] === 0x0a || (this.buf[i] === 0x0d && this.buf[i + 1] === 0x0a))) {
        i += this.buf[i] === 0x0d ? 2 : 1; // heart-beats
      }
      this.buf = this.buf.subarray(i);
      const end = this.buf.indexOf('\n\n') >= 0 ? this.buf.indexOf('\n\n') : -1;
      const endCR = this.buf.indexOf('\r\n\r\n');
      let headEnd, bodyStart;
      if (end >= 0 && (endCR < 0 || end < endCR)) { headEnd = end; bodyStart = end + 2; } else if (endCR >= 0) { headEnd = endCR; bodyStart = endCR + 4; } else return;
      const lines = this.buf.subarray(0, headEnd).toString('utf8').split(/\r?\n/);
      const command = lines[0];
      const headers = new Map();
      for (const line of lines.slice(1)) {
        const c = line.indexOf(':');
        if (c < 0) return this.error('Bad frame', 'header line without colon');
        const k = line.slice(0, c), val = line.slice(c + 1);
        const esc = command !== 'CONNECT' && command !== 'STOMP';
        const key = esc ? unescape(this.version, k) : k;
        if (!headers.has(key)) headers.set(key, esc ? unescape(this.version, val) : val); // first wins
      }
      let bodyEnd;
      if (headers.has('content-length')) {
        bodyEnd = bodyStart + Number(headers.get('content-length'));
        if (this.buf.length <= bodyEnd) return;
        if (this.buf[bodyEnd] !== 0) return this.error('Bad frame', 'body longer than content-length');
      } else {
        bodyEnd = this.buf.indexOf(0, bodyStart);
        if (bodyEnd < 0) return;
      }
      const body = this.buf.subarray(bodyStart, bodyEnd).toString('utf8');
      this.buf = this.buf.subarray(bodyEnd + 1);
      this.frame(command, headers, body);
    }
  }

  frame(command, h, body) {
    if (!this.connected && command !== 'CONNECT' && command !== 'STOMP') {
      return this.error('Not connected', command + ' before CONNECT');
    }
    switch (command) {
      case 'CONNECT':
      case 'STOMP': {
        const versions = (h.get('accept-version') || '1.0').split(',');
        this.version = ['1.2', '1.1', '1.0'].find((v) => versions.includes(v)) || '1.0';
        if (login && (h.get('login') !== login || h.get('passcode') !== passcode)) {
          return this.error('Bad CONNECT', 'Access refused for user \'' + (h.get('login') || '') + '\'');
        }
        const [cx, cy] = (h.get('heart-beat') || '0,0').split(',').map(Number);
        // We send every max(our sx, their cy); we expect theirs every max(cx, our sy).
        const sendEvery = heartBeat && cy ? Math.max(heartBeat, cy) : 0;
        const expectEvery = heartBeat && cx ? Math.max(heartBeat, cx) : 0;
        this.connected = true;
        connects++;
        const hdr = [['version', this.version], ['server', 'sockjs-stomp-test'], ['heart-beat', heartBeat + ',' + heartBeat]];
        if (this.version === '1.0') hdr.splice(0, 1);
        this.send(encode(this.version, 'CONNECTED', hdr));
        if (sendEvery) this.timers.push(setInterval(() => this.send('\n'), sendEvery));
        if (expectEvery) {
          this.timers.push(setInterval(() => {
            if (Date.now() - this.lastRecv > 2 * expectEvery) {
              console.log('client silent for ' + (Date.now() - this.lastRecv) + ' ms: closing');
              this.sock.close();
            }
          }, expectEvery / 2));
        }
        return;
      }
      case 'SUBSCRIBE': {
        const dest = h.get('destination') || '';
        if (!dest.startsWith('/topic/')) {
          return this.error('Unknown destination', '\'' + dest + '\' is not a valid destination.', h.get('receipt'));
        }
        this.subs.set(h.get('id') || '', dest);
        break;
      }
      case 'UNSUBSCRIBE':
        this.subs.delete(h.get('id') || '');
        break;
      case 'SEND': {
        const headers = {};
        for (const [k, v] of h) if (!['destination', 'content-length', 'receipt'].includes(k)) headers[k] = v;
        publish(h.get('destination') || '', body, headers);
        break;
      }
      case 'DISCONNECT':
        if (h.has('receipt')) this.send(encode(this.version, 'RECEIPT', [['receipt-id', h.get('receipt')]]));
        setTimeout(() => this.sock.close(), 50);
        return;
      case 'ACK':
      case 'NACK':
      case 'BEGIN':
      case 'COMMIT':
      case 'ABORT':
        break;
      default:
        return this.error('Unknown command', command);
    }
    if (h.has('receipt')) this.send(encode(this.version, 'RECEIPT', [['receipt-id', h.get('receipt')]]));
  }
}

function publish(destination, body, headers) {
  for (const c of conns) {
    for (const [id, dest] of c.subs) {
      if (dest !== destination) continue;
      const h = [['destination', destination], ['message-id', 'm-' + idPrefix + '-' + nextMessage++], ['subscription', id]];
      if (c.version === '1.2') h.push(['ack', 'a-' + nextMessage]);
      for (const [k, v] of Object.entries(headers || {})) h.push([k, v]);
      c.send(encode(c.version, 'MESSAGE', h, body));
    }
  }
}

const sj = sockjs.createServer({ prefix: '/stomp', heartbeat_delay: sockjsHeartbeat, log: () => {} });
sj.on('connection', (sock) => { if (sock) conns.add(new Conn(sock)); });

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    let subscriptions = 0;
    for (const c of conns) subscriptions += c.subs.size;
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ connections: conns.size, subscriptions, connects }));
  }
  if (req.method === 'POST' && req.url === '/publish') {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { data += d; });
    req.on('end', () => {
      for (const m of JSON.parse(data)) publish(m.destination, m.body, m.headers);
      res.end('{}');
    });
    return;
  }
  res.statusCode = 404;
  res.end();
});
sj.installHandlers(server);
server.listen(port, '127.0.0.1', () => console.log('sockjs-stomp listening on 127.0.0.1:' + server.address().port));
