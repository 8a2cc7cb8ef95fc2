// Peer for the echo benchmark: Node's `ws` (Debian node-ws) echo server, no compression.
// Usage: NODE_PATH=/usr/share/nodejs node perf/peers/ws-echo.js PORT
const { WebSocketServer } = require('ws');
const port = Number(process.argv[2] || 39700);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, maxPayload: 16 << 20 });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on('listening', () => console.log(`ws echo listening on ${port}`));
