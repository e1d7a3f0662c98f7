// Throughput of the npm tokenizers — tiktoken (the reference, WASM) and gpt-tokenizer (pure JS)
// — on the same ~100 KB texts as bench/micro/tokenizer_bench.cpp, for comparing them.
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

// Each line: <package> <encoding> <text> <bytes> bytes <tokens> tokens <rate> MB/s.
function measure(pkg, name, kind, text, encode) {
  const bytes = Buffer.byteLength(text);
  for (let i = 0; i < 5; ++i) encode(text);
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < 2e9) {
    encode(text);
    ++runs;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  const mbps = (bytes * runs) / (elapsed / 1e9) / 1e6;
  const tokens = encode(text).length;
  console.log(`${pkg} ${name} ${kind} ${bytes} bytes ${tokens} tokens ${mbps.toFixed(1)} MB/s`);
}

for (const name of ['cl100k_base', 'o200k_base']) {
  const encoding = get_encoding(name);
  for (const [kind, text] of Object.entries(texts)) {
    measure('tiktoken', name, kind, text, (t) => encoding.encode_ordinary(t));
  }
  encoding.free();
  // gpt-tokenizer (pure JS), with its default merge cache, as an application would use it.
  const gpt = await import(`gpt-tokenizer/encoding/${name}`);
  for (const [kind, text] of Object.entries(texts)) {
    measure('gpt-tokenizer', name, kind, text, (t) => gpt.encode(t, { allowedSpecial: new Set(), disallowedSpecial: new Set() }));
  }
}
