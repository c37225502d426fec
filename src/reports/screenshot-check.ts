/**
 * Checks that a browser rendered an HTML drill report: the screenshot is a PNG with something drawn on it (not a
 * blank page), and the DOM the browser built holds the timeline with one bar per target and the SLO line (the
 * invariants of timeline.ts). Pure functions over bytes and text, used by scripts/screenshot-report.ts.
 */
import { inflateSync } from 'node:zlib'

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
/** A rendered report covers far more than this share of the page with text, bars and lines. */
const MIN_INK_SHARE = 0.005

export interface PngInk {
  width: number
  height: number
  /** Share of the pixels that differ from the top-left pixel (the page background). */
  inkShare: number
}

/** Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) and measures how much of it is not background. */
export function measurePngInk(png: Buffer): PngInk {
  if (png.length < 33 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG file')
  const idat: Buffer[] = []
  let width = 0
  let height = 0
  let channels = 0
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at)
    const type = png.toString('latin1', at + 4, at + 8)
    const data = png.subarray(at + 8, at + 8 + length)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      const bitDepth = data[8]
      const colorType = data[9]
      if (bitDepth !== 8 || (colorType !== 2 && colorType !== 6) || data[12] !== 0) {
        throw new Error(`unsupported PNG (bit depth ${bitDepth}, colour type ${colorType}, interlace ${data[12]})`)
      }
      channels = colorType === 6 ? 4 : 3
    } else if (type === 'IDAT') idat.push(data)
    else if (type === 'IEND') break
    at += 12 + length
  }
  if (width === 0 || height === 0 || idat.length === 0) throw new Error('PNG without image data')
  const pixels = unfilter(inflateSync(Buffer.concat(idat)), width, height, channels)
  let ink = 0
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < channels; c++) {
      if (pixels[p * channels + c] !== pixels[c]) {
        ink++
        break
      }
    }
  }
  return { width, height, inkShare: ink / (width * height) }
}

/** Reverses the PNG row filters (None, Sub, Up, Average, Paeth). */
function unfilter(raw: Buffer, width: number, height: number, bpp: number): Uint8Array {
  const stride = width * bpp
  const out = new Uint8Array(stride * height)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let i = 0; i < stride; i++) {
      const left = i >= bpp ? out[y * stride + i - bpp]! : 0
      const up = y > 0 ? out[(y - 1) * stride + i]! : 0
      const upLeft = y > 0 && i >= bpp ? out[(y - 1) * stride + i - bpp]! : 0
      let predictor: number
      switch (filter) {
        case 0:
          predictor = 0
          break
        case 1:
          predictor = left
          break
        case 2:
          predictor = up
          break
        case 3:
          predictor = (left + up) >> 1
          break
        case 4:
          predictor = paeth(left, up, upLeft)
          break
        default:
          throw new Error(`bad PNG filter ${filter} on row ${y}`)
      }
      out[y * stride + i] = (row[i]! + predictor) & 0xff
    }
  }
  return out
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c
  const pa = Math.abs(p - a)
  const pb = Math.abs(p - b)
  const pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/** Problems with a screenshot: empty when it shows a rendered page. */
export function checkScreenshot(png: Buffer, expected: { width: number; height: number }): string[] {
  let ink: PngInk
  try {
    ink = measurePngInk(png)
  } catch (error) {
    return [`the screenshot is not a readable PNG: ${(error as Error).message}`]
  }
  const problems: string[] = []
  if (ink.width !== expected.width || ink.height !== expected.height) {
    problems.push(`the screenshot is ${ink.width}x${ink.height}, expected ${expected.width}x${expected.height}`)
  }
  if (ink.inkShare < MIN_INK_SHARE) problems.push(`the screenshot is blank (${(ink.inkShare * 100).toFixed(2)}% of it differs from the background)`)
  return problems
}

/** Problems with the DOM a browser built from a report: empty when the timeline is whole. */
export function checkRenderedDom(dom: string): string[] {
  const svg = /<svg\b[^>]*\bclass="timeline"[^>]*>/.exec(dom)
  if (!svg) return ['the DOM has no timeline SVG (svg.timeline)']
  const declared = /\bdata-targets="(\d+)"/.exec(svg[0])
  if (!declared) return ['the timeline SVG does not declare its target count (data-targets)']
  const problems: string[] = []
  const expected = Number(declared[1])
  const bars = dom.match(/<rect\b[^>]*\bclass="bar\b/g)?.length ?? 0
  if (bars !== expected) problems.push(`the timeline has ${bars} bar(s) for ${expected} target(s)`)
  if (!/<line\b[^>]*\bclass="slo"/.test(dom)) problems.push('the timeline has no SLO line (line.slo)')
  return problems
}
