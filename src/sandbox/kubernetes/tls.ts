/**
 * A TLS endpoint for the plane, for the kubeconfig's per-user contexts: client-go (kubectl) sends a kubeconfig's
 * bearer token only over TLS (k8s `client-go/tools/clientcmd/client_config.go`: "only try to read the auth
 * information if we are secure"), so a restricted user's token reaches the plane only here. The certificate is
 * self-signed, made at start-up (an ECDSA P-256 key, DER written by hand: Node can sign but not build X.509), and the
 * kubeconfig says `insecure-skip-tls-verify: true`, as for the plain-HTTP cluster.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { SandboxRequest } from '../server.js'

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let rest = n; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

const tlv = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), length(body.length), body])
}
const sequence = (...content: Buffer[]) => tlv(0x30, ...content)

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]]
  const bytes = [40 * a + b]
  for (const arc of rest) {
    const chunk = [arc & 0x7f]
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return tlv(0x06, Buffer.from(bytes))
}

/** YYMMDDHHMMSSZ */
const utcTime = (date: Date) => tlv(0x17, Buffer.from(date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'))

/** A self-signed certificate for 127.0.0.1 and localhost, valid for a year: `{ key, cert }` as PEM. */
export function selfSignedCertificate(now = new Date()): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const algorithm = sequence(oid('1.2.840.10045.4.3.2')) // ecdsa-with-SHA256
  const name = sequence(tlv(0x31, sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from('killswitch-sandbox')))))
  const serial = randomBytes(8)
  serial[0] = serial[0]! & 0x7f
  const altNames = sequence(tlv(0x87, Buffer.from([127, 0, 0, 1])), tlv(0x82, Buffer.from('localhost')))
  const tbs = sequence(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    algorithm,
    name,
    sequence(utcTime(new Date(now.getTime() - 60_000)), utcTime(new Date(now.getTime() + 365 * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, sequence(sequence(oid('2.5.29.17'), tlv(0x04, altNames)))),
  )
  const signature = sign('sha256', tbs, privateKey)
  const certificate = sequence(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature))
  const pem = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: pem('CERTIFICATE', certificate) }
}

export interface TlsEndpoint {
  url: string
  close(): Promise<void>
}

/** Listens on 127.0.0.1 over TLS and hands each request, read whole, to `handle`. */
export async function serveTls(handle: (req: SandboxRequest, res: ServerResponse) => Promise<void>): Promise<TlsEndpoint> {
  const sockets = new Set<Socket>()
  const server = createServer(selfSignedCertificate(), async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const url = new URL(req.url ?? '/', 'https://sandbox.local')
      await handle({ method: req.method ?? 'GET', url, headers: req.headers, body: Buffer.concat(chunks) }, res)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ sandbox: 'killswitch', error: 'SandboxFault', message: String(error) }))
    }
  })
  server.on('secureConnection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `https://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
