/** A host as sockets take it: an IPv6 address without the brackets a URL or a Host header puts around it. */
export function unbracketed(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
