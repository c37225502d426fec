/** A one-file ZIP archive in the "stored" (uncompressed) layout, enough for a Lambda CreateFunction in moto. */
import { crc32 } from 'node:zlib'

export function storedZip(fileName: string, content: string): Uint8Array {
  const name = Buffer.from(fileName)
  const data = Buffer.from(content)
  const crc = crc32(data)
  const DOS_DATE_1980_01_01 = 0x21

  const local = Buffer.alloc(30)
  local.writeUInt32LE(0x04034b50, 0)
  local.writeUInt16LE(20, 4)
  local.writeUInt16LE(DOS_DATE_1980_01_01, 12)
  local.writeUInt32LE(crc, 14)
  local.writeUInt32LE(data.length, 18)
  local.writeUInt32LE(data.length, 22)
  local.writeUInt16LE(name.length, 26)

  const central = Buffer.alloc(46)
  central.writeUInt32LE(0x02014b50, 0)
  central.writeUInt16LE(20, 4)
  central.writeUInt16LE(20, 6)
  central.writeUInt16LE(DOS_DATE_1980_01_01, 14)
  central.writeUInt32LE(crc, 16)
  central.writeUInt32LE(data.length, 20)
  central.writeUInt32LE(data.length, 24)
  central.writeUInt16LE(name.length, 28)

  const centralOffset = local.length + name.length + data.length
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(1, 8)
  end.writeUInt16LE(1, 10)
  end.writeUInt32LE(central.length + name.length, 12)
  end.writeUInt32LE(centralOffset, 16)

  return Buffer.concat([local, name, data, central, name, end])
}
