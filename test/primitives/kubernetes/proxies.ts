/**
 * Proxies for the connection tests, written with node:http and node:net: an HTTP proxy that tunnels CONNECT and
 * forwards absolute-form requests, and a SOCKS5 proxy (RFC 1928, with RFC 1929 user/password). Each sends every
 * connection to `upstream`, whatever host the client asked for (so a test can name the API server `kube.test`), and
 * records what it was asked.
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'

export interface ProxyRecord {
  /** `CONNECT kube.test:443`, `GET http://kube.test:8080/api`, or `SOCKS5 kube.test:443`. */
  request: string
  /** The Proxy-Authorization header, or the SOCKS5 `user:password`. */
  credentials?: string
  headers?: IncomingHttpHeaders
}

export interface TestProxy {
  url: string
  port: number
  seen: ProxyRecord[]
  close(): Promise<void>
}

/**
 * An HTTP proxy; `refuse` answers CONNECT with that status instead of tunnelling (407, 403…); with `tls` it is an
 * https:// proxy (TLS between client and proxy) with that key and certificate.
 */
export async function startHttpProxy(upstream: () => number, options: { refuse?: number; tls?: { key: Buffer; cert: Buffer } } = {}): Promise<TestProxy> {
  const seen: ProxyRecord[] = []
  const sockets = new Set<Socket>()
  const forward: RequestListener = (request, response) => {
    seen.push({ request: `${request.method} ${request.url}`, credentials: request.headers['proxy-authorization'], headers: request.headers })
    const target = new URL(request.url ?? '/')
    const headers = { ...request.headers }
    delete headers['proxy-authorization']
    delete headers['proxy-connection']
    const forwarded = httpRequest({ host: '127.0.0.1', port: upstream(), method: request.method, path: target.pathname + target.search, headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    forwarded.on('error', () => response.destroy())
    request.pipe(forwarded)
  }
  const server: Server = options.tls ? createHttpsServer(options.tls, forward) : createHttpServer(forward)
  server.on('connect', (request, client: Socket, head) => {
    seen.push({ request: `CONNECT ${request.url}`, credentials: request.headers['proxy-authorization'], headers: request.headers })
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    if (options.refuse) {
      client.end(`HTTP/1.1 ${options.refuse} Refused by the test proxy\r\nContent-Length: 0\r\n\r\n`)
      return
    }
    const tunnel = connect(upstream(), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n')
      tunnel.write(head)
      tunnel.pipe(client)
      client.pipe(tunnel)
    })
    sockets.add(tunnel)
    tunnel.on('close', () => sockets.delete(tunnel))
    tunnel.on('error', () => client.destroy())
    client.on('error', () => tunnel.destroy())
  })
  return await listening(server, options.tls ? 'https' : 'http', seen, sockets)
}

/** A SOCKS5 proxy; with `user`, it requires RFC 1929 username/password authentication. */
export async function startSocksProxy(upstream: () => number, user?: { name: string; password: string }): Promise<TestProxy> {
  const seen: ProxyRecord[] = []
  const sockets = new Set<Socket>()
  const server = createNetServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => client.destroy())
    let buffer = Buffer.alloc(0)
    let stage: 'greeting' | 'auth' | 'request' = 'greeting'
    let credentials: string | undefined
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (stage === 'greeting' && buffer.length >= 2 && buffer.length >= 2 + buffer[1]!) {
        const methods = [...buffer.subarray(2, 2 + buffer[1]!)]
        buffer = buffer.subarray(2 + buffer[1]!)
        const wanted = user ? 0x02 : 0x00
        if (!methods.includes(wanted)) return void client.end(Buffer.from([0x05, 0xff]))
        client.write(Buffer.from([0x05, wanted]))
        stage = user ? 'auth' : 'request'
      }
      if (stage === 'auth' && buffer.length >= 2) {
        const nameLength = buffer[1]!
        if (buffer.length < 3 + nameLength || buffer.length < 3 + nameLength + buffer[2 + nameLength]!) return
        const name = buffer.subarray(2, 2 + nameLength).toString()
        const passwordLength = buffer[2 + nameLength]!
        const password = buffer.subarray(3 + nameLength, 3 + nameLength + passwordLength).toString()
        buffer = buffer.subarray(3 + nameLength + passwordLength)
        credentials = `${name}:${password}`
        const ok = name === user!.name && password === user!.password
        client.write(Buffer.from([0x01, ok ? 0x00 : 0x01]))
        if (!ok) return void client.end()
        stage = 'request'
      }
      if (stage === 'request' && buffer.length >= 5) {
        const type = buffer[3]!
        const addressLength = type === 0x01 ? 4 : type === 0x04 ? 16 : 1 + buffer[4]!
        if (buffer.length < 4 + addressLength + 2) return
        const address =
          type === 0x03
            ? buffer.subarray(5, 5 + buffer[4]!).toString()
            : type === 0x01
              ? [...buffer.subarray(4, 8)].join('.')
              : buffer.subarray(4, 20).toString('hex')
        const port = buffer.readUInt16BE(4 + addressLength)
        const rest = buffer.subarray(4 + addressLength + 2)
        seen.push({ request: `SOCKS5 ${address}:${port}`, credentials })
        client.off('data', onData)
        const tunnel = connect(upstream(), '127.0.0.1', () => {
          client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0, 0]))
          tunnel.write(rest)
          tunnel.pipe(client)
          client.pipe(tunnel)
        })
        sockets.add(tunnel)
        tunnel.on('close', () => sockets.delete(tunnel))
        tunnel.on('error', () => client.destroy())
      }
    }
    client.on('data', onData)
  })
  return await listening(server, 'socks5', seen, sockets)
}

async function listening(server: Server | NetServer, scheme: string, seen: ProxyRecord[], sockets: Set<Socket>): Promise<TestProxy> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    seen,
    async close() {
      for (const socket of sockets) socket.destroy()
      if ('closeAllConnections' in server) server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
