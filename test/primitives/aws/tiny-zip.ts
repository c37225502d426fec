/** A one-file ZIP archive (stored, not compressed), enough for CreateFunction's `Code.ZipFile`. */
import { crc32 } from 'node:zlib'

export function tinyZip(fileName: string, content: string): Uint8Array {
  const name = Buffer.from(fileName)
  const data = Buffer.from(content)
  const crc = crc32(data)

  const local = Buffer.alloc(30)
  local.writeUInt32LE(0x04034b50, 0) // local file header signature
  local.writeUInt16LE(20, 4) // version needed
  local.writeUInt32LE(crc, 14)
  local.writeUInt32LE(data.length, 18) // compressed size (stored)
  local.writeUInt32LE(data.length, 22) // uncompressed size
  local.writeUInt16LE(name.length, 26)

  const central = Buffer.alloc(46)
  central.writeUInt32LE(0x02014b50, 0) // central directory header signature
  central.writeUInt16LE(20, 4) // version made by
  central.writeUInt16LE(20, 6) // version needed
  central.writeUInt32LE(crc, 16)
  central.writeUInt32LE(data.length, 20)
  central.writeUInt32LE(data.length, 24)
  central.writeUInt16LE(name.length, 28)
  // local header offset (bytes 42-45) is 0: the only entry starts the archive

  const directoryOffset = local.length + name.length + data.length
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0) // end of central directory signature
  end.writeUInt16LE(1, 8) // entries on this disk
  end.writeUInt16LE(1, 10) // entries in total
  end.writeUInt32LE(central.length + name.length, 12)
  end.writeUInt32LE(directoryOffset, 16)

  return Buffer.concat([local, name, data, central, name, end])
}
