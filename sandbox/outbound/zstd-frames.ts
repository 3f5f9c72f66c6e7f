// fzstd allocates each frame's whole window (as the frame header declares it,
// up to 2 GiB) the moment it reads that header. This walker reads frame and
// block headers as the bytes arrive, without decoding, and lets a frame's
// bytes through only once its header has been checked, so a frame that
// declares a window larger than we accept is refused before anything is
// allocated for it (RFC 8878, sections 3.1.1 and 3.1.2).

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type State = "frame" | "block" | "checksum";

export class ZstdFrameWalker {
  private held: Buffer = Buffer.alloc(0);
  /** Bytes already checked that may pass without looking at them. */
  private passThrough = 0;
  private state: State = "frame";
  private lastBlock = false;
  private checksum = false;

  constructor(private readonly maxWindowBytes: number) {}

  /**
   * The part of what has arrived so far that may be decoded now (in order);
   * throws an Error whose message says what is wrong with the stream.
   */
  push(chunk: Buffer): Buffer {
    this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      if (this.passThrough > 0) {
        const n = Math.min(this.passThrough, this.held.length - at);
        if (n === 0) break;
        out.push(this.held.subarray(at, at + n));
        at += n;
        this.passThrough -= n;
        continue;
      }
      const size = this.headerSize(this.held.subarray(at));
      if (size === undefined) break;
      this.passThrough = size;
    }
    this.held = this.held.subarray(at);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Whether the stream ended where a frame may end. */
  get complete(): boolean {
    return this.state === "frame" && this.passThrough === 0 && this.held.length === 0;
  }

  /** How many bytes from `b` on belong to the next checked unit, or undefined until enough have arrived. */
  private headerSize(b: Buffer): number | undefined {
    switch (this.state) {
      case "frame": {
        if (b.length < 4) return undefined;
        const magic = b.readUInt32LE(0);
        if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
          if (b.length < 8) return undefined;
          return 8 + b.readUInt32LE(4);
        }
        if (magic !== ZSTD_MAGIC) throw new Error("not a zstd frame");
        if (b.length < 5) return undefined;
        const descriptor = b[4]!;
        const singleSegment = (descriptor >> 5) & 1;
        const contentSizeFlag = descriptor >> 6;
        const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
        const contentSizeBytes = contentSizeFlag === 0 ? singleSegment : 1 << contentSizeFlag;
        const size = 5 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
        if (b.length < size) return undefined;
        let window: number;
        if (singleSegment) {
          // The window is the content size itself.
          const at = size - contentSizeBytes;
          window =
            contentSizeBytes === 1 ? b[at]!
            : contentSizeBytes === 2 ? b.readUInt16LE(at) + 256
            : contentSizeBytes === 4 ? b.readUInt32LE(at)
            : Number(b.readBigUInt64LE(at));
        } else {
          const w = b[5]!;
          const base = 2 ** (10 + (w >> 3));
          window = base + (base / 8) * (w & 7);
        }
        if (window > this.maxWindowBytes) throw new Error(`a frame's window of ${window} bytes exceeds ${this.maxWindowBytes} bytes`);
        this.checksum = ((descriptor >> 2) & 1) === 1;
        this.state = "block";
        return size;
      }
      case "block": {
        if (b.length < 3) return undefined;
        const header = b[0]! | (b[1]! << 8) | (b[2]! << 16);
        const type = (header >> 1) & 3;
        if (type === 3) throw new Error("reserved block type");
        this.lastBlock = (header & 1) === 1;
        if (this.lastBlock) this.state = this.checksum ? "checksum" : "frame";
        // An RLE block carries one byte, repeated Block_Size times.
        return 3 + (type === 1 ? 1 : header >>> 3);
      }
      case "checksum":
        this.state = "frame";
        return 4;
    }
  }
}
