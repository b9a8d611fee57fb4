// The fallback test broker where no mosquitto binary exists: aedes in its own process, so tests can
// kill and restart it like mosquitto. Argument: JSON {port, wsPort?, users?, tls?, holdOthersUntilSubscribed?}.
//
// aedes keeps sessions in memory only, so a killed broker forgets the test subscriber; the
// holdOthersUntilSubscribed option stands in for mosquitto's persistence file: other clients'
// CONNECTs wait until that client id has subscribed again, so nothing is published to nobody.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

const opts = JSON.parse(process.argv[2]);
const broker = await Aedes.createBroker({ drainTimeout: 10000 });
let holdReleased = !opts.holdOthersUntilSubscribed;
const waiting = [];

broker.on('subscribe', (_subs, client) => {
  if (client && client.id === opts.holdOthersUntilSubscribed && !holdReleased) {
    holdReleased = true;
    // The event can come before the subscription is routable; give it a moment.
    setTimeout(() => {
      for (const release of waiting.splice(0)) release();
    }, 100);
  }
});

broker.authenticate = (client, username, password, callback) => {
  const decide = () => {
    if (!opts.users) return callback(null, true);
    if (opts.users[username] !== undefined && opts.users[username] === password?.toString()) return callback(null, true);
    const err = new Error('bad username or password');
    err.returnCode = 4;
    callback(err, false);
  };
  if ((holdReleased && waiting.length === 0) || client.id === opts.holdOthersUntilSubscribed) decide();
  else waiting.push(decide);
};

const server = opts.tls
  ? createTlsServer(
      {
        ca: readFileSync(opts.tls.caFile),
        cert: readFileSync(opts.tls.certFile),
        key: readFileSync(opts.tls.keyFile),
        requestCert: !!opts.tls.requireCertificate,
        rejectUnauthorized: !!opts.tls.requireCertificate,
      },
      broker.handle,
    )
  : createServer(broker.handle);
server.listen(opts.port, '127.0.0.1');

if (opts.wsPort) {
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws, req) => broker.handle(createWebSocketStream(ws), req));
  http.listen(opts.wsPort, '127.0.0.1');
}
process.stdout.write('aedes ready\n');
