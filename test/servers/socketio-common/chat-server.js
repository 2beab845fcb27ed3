// A small Socket.IO chat server for wsmon's integration tests, shared by
// the Socket.IO 4 and 2 servers (each passes its own socket.io module).
//
//   node server.js --port N [--ping-interval MS] [--ping-timeout MS]
//                  [--token SECRET] [--recovery] [--path /socket.io]
//
// Namespaces "/" and "/chat" exist (any other is refused by Socket.IO
// itself). With --token every namespace requires that token (Socket.IO 4:
// the CONNECT payload's auth.token; Socket.IO 2: the token query param).
// With --recovery (Socket.IO 4 only) connection state recovery is on, so
// events carry an offset. A client's "message" and "chat message" events
// are relayed to every socket of its namespace, sender included (as the
// Socket.IO chat example's io.emit does); /stats counts them (relayed).
// HTTP control endpoints on the same port:
//
//   GET  /stats      {"version":..,"clients":{"/":n,"/chat":n},"acks":n,"relayed":n}
//   POST /broadcast  a JSON list of {ns, event, args, ack}: each emitted to
//                    every socket of namespace ns (default "/"), in order.
//                    An object {"$buffer":"<base64>"} in args becomes a
//                    binary attachment. ack: emit to each socket with an
//                    ack callback (counted in /stats acks).
//   POST /kick?ns=/chat  disconnects every socket of that namespace (41).
//   POST /drop       closes every client's connection (no 41: as a network
//                    drop would), then emits the body's list as /broadcast
//                    does, while the clients are away. With --recovery a
//                    client that resumes gets them replayed.
"use strict";

const http = require("http");

module.exports = function run(socketio, version) {
  const argv = process.argv.slice(2);
  const opt = (name, def) => {
    const i = argv.indexOf("--" + name);
    return i >= 0 ? argv[i + 1] : def;
  };
  const flag = (name) => argv.includes("--" + name);
  const port = parseInt(opt("port", "0"), 10);
  const token = opt("token", "");
  const v2 = version.startsWith("2.");

  let acks = 0;
  let recovered = 0;
  let relayed = 0;
  const server = http.createServer((req, res) => {
    // Chunks are joined as bytes: decoding each alone would break a
    // multi-byte character cut at a chunk boundary.
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString("utf8"));
      } catch (e) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(e && e.stack ? e.stack : e));
      }
    });
  });

  const opts = {
    pingInterval: parseInt(opt("ping-interval", "25000"), 10),
    pingTimeout: parseInt(opt("ping-timeout", v2 ? "5000" : "20000"), 10),
    serveClient: false,
    path: opt("path", "/socket.io"),
  };
  if (flag("recovery")) {
    opts.connectionStateRecovery = { maxDisconnectionDuration: 120000 };
  }
  const io = v2 ? socketio(server, opts) : new socketio.Server(server, opts);

  const namespaces = ["/", "/chat"];
  for (const name of namespaces) {
    const nsp = io.of(name);
    if (token) {
      nsp.use((socket, next) => {
        const got = v2 ? socket.handshake.query.token : (socket.handshake.auth || {}).token;
        if (got === token) return next();
        next(new Error("invalid token"));
      });
    }
    nsp.on("connection", (socket) => {
      if (socket.recovered) recovered++;
      for (const ev of ["message", "chat message"]) {
        socket.on(ev, (...args) => {
          relayed++;
          nsp.emit(ev, ...args);
        });
      }
      socket.on("disconnect", () => {});
    });
  }

  function sockets(nsp) {
    return v2 ? Object.values(nsp.sockets) : Array.from(nsp.sockets.values());
  }

  function revive(v) {
    if (Array.isArray(v)) return v.map(revive);
    if (v && typeof v === "object") {
      if (typeof v.$buffer === "string" && Object.keys(v).length === 1) {
        return Buffer.from(v.$buffer, "base64");
      }
      const o = {};
      for (const k of Object.keys(v)) o[k] = revive(v[k]);
      return o;
    }
    return v;
  }

  function handle(req, res, body) {
    const url = new URL(req.url, "http://127.0.0.1");
    const json = (code, v) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    if (req.method === "GET" && url.pathname === "/stats") {
      const clients = {};
      for (const name of namespaces) clients[name] = sockets(io.of(name)).length;
      return json(200, { version, clients, acks, recovered, relayed });
    }
    if (req.method === "POST" && (url.pathname === "/broadcast" || url.pathname === "/drop")) {
      const items = JSON.parse(body || "[]");
      if (url.pathname === "/drop") {
        const conns = new Set();
        for (const name of namespaces) for (const s of sockets(io.of(name))) conns.add(s.conn);
        for (const c of conns) c.close();
      }
      let sent = 0;
      for (const it of items) {
        const nsp = io.of(it.ns || "/");
        const args = revive(it.args || []);
        if (it.ack) {
          for (const s of sockets(nsp)) {
            s.emit(it.event, ...args, () => acks++);
            sent++;
          }
        } else {
          nsp.emit(it.event, ...args);
          sent++;
        }
      }
      return json(200, { sent });
    }
    if (req.method === "POST" && url.pathname === "/kick") {
      const nsp = io.of(url.searchParams.get("ns") || "/");
      const list = sockets(nsp);
      for (const s of list) s.disconnect(false);
      return json(200, { kicked: list.length });
    }
    json(404, { error: "not found" });
  }

  server.listen(port, "127.0.0.1", () => {
    console.log(`socket.io ${version} listening on 127.0.0.1:${server.address().port}`);
  });
  const stop = () => {
    io.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
};
