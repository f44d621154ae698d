/** awx_display's pty output, made and decoded: event markers, and DisplayDecoder run over chunks. */
import { DisplayDecoder, type DecodedEvent } from '../../operator/src/job/display-decoder.js';
import { dumps } from '../../operator/src/protocol/pyjson.js';

/** An event marker as awx_display writes it: base64 of the JSON, in 78-character pieces each erased again. */
export function marker(payload: object): string {
  const b64 = Buffer.from(JSON.stringify(payload).replace(/":/g, '": ')).toString('base64');
  let out = '\x1b[K';
  for (let i = 0; i < b64.length; i += 78) {
    const piece = b64.slice(i, i + 78);
    out += `${piece}\x1b[${piece.length}D`;
  }
  return out + '\x1b[K';
}

/** The marker that ends an event. */
export const END = marker({});

/** The decoder over these chunks: [events as Python-style JSON lines, stdout file text]. */
export function runDecoder(chunks: string[]): [string[], string] {
  const events: string[] = [];
  let file = '';
  const decoder = new DisplayDecoder({
    onEvent: (e: DecodedEvent) => events.push(dumps(e.fields)),
    onStdoutFile: (text) => (file += text),
  });
  for (const c of chunks) decoder.write(c);
  decoder.close();
  return [events, file];
}
