// Throughput of the reference tokenizer (npm tiktoken, WASM) on the same ~100 KB texts as
// bench/micro/tokenizer_bench.cpp, for comparing the two.
//
// usage: cd scripts/tokenizer && npm ci && node bench.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { get_encoding } from 'tiktoken';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../tests/data/tokenizer/corpus');

// Whole copies of the sample until it reaches 100 KiB (the C++ benchmark builds it the same way).
function sample(files) {
  const one = files.map((f) => fs.readFileSync(path.join(corpus, f), 'utf8')).join('');
  let text = '';
  while (Buffer.byteLength(text) < 100 * 1024) text += one;
  return text;
}

const texts = {
  english: sample(['english.txt']),
  chinese: sample(['chinese.txt']),
  code: sample(['code.cpp.txt', 'code.py.txt', 'code.js.txt']),
};

for (const name of ['cl100k_base', 'o200k_base']) {
  const encoding = get_encoding(name);
  for (const [kind, text] of Object.entries(texts)) {
    const bytes = Buffer.byteLength(text);
    for (let i = 0; i < 5; ++i) encoding.encode_ordinary(text);
    let runs = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < 2e9) {
      encoding.encode_ordinary(text);
      ++runs;
      elapsed = Number(process.hrtime.bigint() - start);
    }
    const mbps = (bytes * runs) / (elapsed / 1e9) / 1e6;
    const tokens = encoding.encode_ordinary(text).length;
    const line = `${name} ${kind.padEnd(8)} ${bytes} bytes ${tokens} tokens`;
    console.log(`${line}  ${mbps.toFixed(1)} MB/s`);
  }
  encoding.free();
}
