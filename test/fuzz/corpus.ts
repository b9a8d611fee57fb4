/** The fuzz corpus: the shared conformance captures, parsed once into frames (copied) and secrets. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureFormatError, CaptureReader } from '../../src/capture/capture-reader.js';
import type { Capture } from './mutate.js';

export function loadCorpus(dir: string): Capture[] {
  if (!existsSync(dir)) return [];
  const captures: Capture[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!statSync(path).isFile() || !/\.(pcap|pcapng|cap)$/.test(name)) continue;
    const bytes = readFileSync(path);
    const capture: Capture = { name, bytes, frames: [], secrets: [] };
    const reader = new CaptureReader(
      (f) => capture.frames.push({ linkType: f.linkType, data: Buffer.from(f.data), tsUs: f.tsUs }),
      (type, data) => capture.secrets.push([type, Buffer.from(data)]),
    );
    try {
      reader.push(bytes);
      reader.end();
    } catch (err) {
      // A damaged corpus file still gives the frames before the damage.
      if (!(err instanceof CaptureFormatError)) throw err;
    }
    captures.push(capture);
  }
  return captures;
}
