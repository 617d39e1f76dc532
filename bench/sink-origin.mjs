// An origin that reads and discards every body, then answers 201: the streaming ceiling without a disk.
import http from 'node:http';

http
  .createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-length': '0' });
      res.end();
    });
  })
  .listen(Number(process.argv[2]), '127.0.0.1');
