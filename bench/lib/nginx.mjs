import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureDebianPackage, start, waitForPort } from './processes.mjs';

export const NGINX = '/usr/sbin/nginx';

export const ensureNginx = () => ensureDebianPackage(NGINX, 'nginx');

/**
 * One nginx with two servers: the origin (a 1 KiB file, a PUT endpoint
 * answering 201) and the peer proxy users would pick (request buffering
 * off, keep-alive upstreams), in front of the same origins as Headroom.
 */
/** The start of every bench nginx's configuration: one worker, its files in `dir`, no access log; the `http {` block is left open. */
export function nginxPreamble(dir) {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000;`;
}

export async function startNginx(dir, { originPort, proxyPort, sinkPort }) {
  const root = path.join(dir, 'www');
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'small'), Buffer.alloc(1024, 'x'));
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, `
${nginxPreamble(dir)}
  server {
    listen 127.0.0.1:${originPort};
    root ${root};
    location /small { }
    location /put/ { client_max_body_size 0; return 201; }
  }
  upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  upstream sink { server 127.0.0.1:${sinkPort}; keepalive 8; }
  server {
    listen 127.0.0.1:${proxyPort};
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_request_buffering off;
    proxy_buffering off;
    location /sink/ { proxy_pass http://sink; }
    location / { proxy_pass http://origin; }
  }
}
`);
  const child = start(NGINX, ['-c', conf, '-p', dir]);
  await waitForPort(originPort, 'nginx (origin)');
  await waitForPort(proxyPort, 'nginx (proxy)');
  return child;
}
