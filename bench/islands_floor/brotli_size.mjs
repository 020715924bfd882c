import { readFileSync } from "node:fs";
import { brotliCompressSync, constants } from "node:zlib";
const b = readFileSync(process.argv[2]);
const c = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 22 } });
console.log(c.length);
