// wsmon integration-test chat server: see ../socketio-common/chat-server.js.
"use strict";
const fs = require("fs");
const path = require("path");
const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, "node_modules/socket.io/package.json"), "utf8"));
require("../socketio-common/chat-server.js")(require("socket.io"), version);
