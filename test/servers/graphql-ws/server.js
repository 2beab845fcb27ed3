// Test server for wsmon's graphql-ws adapter: a chat schema served over both
// GraphQL-over-WebSocket protocols by their reference server libraries.
//
//   /graphql  graphql-ws (subprotocol graphql-transport-ws)
//   /legacy   subscriptions-transport-ws (subprotocol graphql-ws), on a ws
//             server without handleProtocols, as legacy deployments run it
//
// Schema: type Message { id user room text }, Subscription.message(room) and
// Subscription.text(room) (the text alone, a String root field), and
// Mutation.send(text, room, user) publishing a message (user default
// "anonymous") to the subscribers, as a chat schema's mutation does.
//
// HTTP on the same port:
//   POST /publish   body [{id,user,room,text},...]: published in order
//   GET  /stats     {"graphql":n,"legacy":n} active subscriptions
//   POST /complete  completes every active subscription (the server ends them)
//
// Flags: --port N (required), --token T (connection_init payload must carry
// Authorization: Bearer T), --keepalive MS (graphql-ws WebSocket ping
// interval and pong wait, default 12000), --ka MS (legacy "ka" interval,
// default 0 = none).
'use strict';

const http = require('http');
const { WebSocketServer } = require('ws');
const { buildSchema, execute, subscribe } = require('graphql');
const { useServer } = require('graphql-ws/use/ws');
const { SubscriptionServer } = require('subscriptions-transport-ws');

function flag(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const port = Number(flag('port', '0'));
const token = flag('token', '');
const keepAlive = Number(flag('keepalive', '12000'));
const legacyKA = Number(flag('ka', '0'));
if (!port) {
  console.error('usage: node server.js --port N [--token T] [--keepalive MS] [--ka MS]');
  process.exit(2);
}

const schema = buildSchema(`
  type Message { id: ID! user: String! room: String! text: String! }
  type Query { ok: Boolean }
  type Mutation { send(text: String!, room: String, user: String): Message }
  type Subscription {
    message(room: String): Message
    text(room: String): String
  }
`);

// Subscribers: one async-iterator queue each, tagged by protocol.
const subscribers = new Set();

function iterator(kind, room, pick) {
  const queue = [];
  let wake = null;
  let done = false;
  const sub = {
    kind,
    push(m) {
      if (done || (room && m.room !== room)) return;
      queue.push(pick(m));
      if (wake) { wake(); wake = null; }
    },
    end() {
      done = true;
      if (wake) { wake(); wake = null; }
    },
  };
  subscribers.add(sub);
  return {
    [Symbol.asyncIterator]() { return this; },
    async next() {
      while (queue.length === 0 && !done) await new Promise((r) => { wake = r; });
      if (queue.length > 0) return { value: queue.shift(), done: false };
      subscribers.delete(sub);
      return { value: undefined, done: true };
    },
    async return() {
      done = true;
      subscribers.delete(sub);
      return { value: undefined, done: true };
    },
  };
}

function roots(kind) {
  return {
    message: (args) => iterator(kind, args.room, (m) => ({ message: m })),
    text: (args) => iterator(kind, args.room, (m) => ({ text: m.text })),
  };
}

let sent = 0;
function send(args) {
  const m = { id: 'm' + ++sent, user: args.user || 'anonymous', room: args.room || '', text: args.text };
  for (const s of subscribers) s.push(m);
  return m;
}

function authorized(params) {
  if (!token) return true;
  return params != null && params.Authorization === 'Bearer ' + token;
}

const modern = new WebSocketServer({ noServer: true });
useServer({
  schema,
  execute,
  subscribe,
  roots: { mutation: { send }, subscription: roots('graphql') },
  onConnect: (ctx) => authorized(ctx.connectionParams),
}, modern, keepAlive);

const legacy = new WebSocketServer({ noServer: true });
SubscriptionServer.create({
  schema,
  execute,
  subscribe,
  rootValue: { ...roots('legacy'), send },
  keepAlive: legacyKA || undefined,
  onConnect: (params) => {
    if (!authorized(params)) throw new Error('bad token');
    return true;
  },
}, legacy);

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/publish') {
      const msgs = JSON.parse(await body(req));
      for (const m of msgs) for (const s of subscribers) s.push(m);
      res.end(JSON.stringify({ published: msgs.length, subscribers: subscribers.size }));
    } else if (req.method === 'GET' && req.url === '/stats') {
      const n = { graphql: 0, legacy: 0 };
      for (const s of subscribers) n[s.kind]++;
      res.end(JSON.stringify(n));
    } else if (req.method === 'POST' && req.url === '/complete') {
      for (const s of subscribers) s.end();
      res.end('{}');
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  } catch (e) {
    res.statusCode = 400;
    res.end(String(e));
  }
});

server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?')[0];
  const wss = path === '/graphql' ? modern : path === '/legacy' ? legacy : null;
  if (!wss) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
