// PDQ, Meta's perceptual image hash, computed in the browser so a victim's picture never
// leaves their device (docs/victim.md, "Evidence"). A port of the reference C++
// (facebook/ThreatExchange pdq/cpp: pdqhashing.cpp, downscaling.cpp, torben.cpp) that the
// server's pdqhash package wraps: luma from RGB (Rec. 601), two X/Y passes of Jarosz box
// filters sized to the picture, decimation to 64x64, a 16x16 DCT from a 16x64 matrix, bits
// above the (Torben) median, and the gradient quality metric. Float32 throughout, as the
// reference. Only the picture decoder differs from the server's (Chromium's, not Pillow's):
// lossless pictures hash the same; re-encoded JPEG pixels may move a few bits.
"use strict";
(function () {
  const f = Math.fround;
  const MIN_HASHABLE_DIM = 5;
  const MAX_PIXELS = 8192 * 8192;

  function windowSize(oldDim, newDim) {
    return Math.floor((oldDim + 2 * newDim - 1) / (2 * newDim));
  }

  // One 1-D box filter pass over a row or column (start, stride), as box1DFloat.
  function box1d(src, dst, start, length, stride, fullWindow) {
    const half = Math.floor((fullWindow + 2) / 2);
    const p1 = half - 1;
    const p2 = fullWindow - half + 1;
    const p3 = length - fullWindow;
    const p4 = half - 1;
    let li = start, ri = start, oi = start;
    let sum = 0;
    let size = 0;
    for (let i = 0; i < p1; i++) { sum = f(sum + src[ri]); size++; ri += stride; }
    for (let i = 0; i < p2; i++) {
      sum = f(sum + src[ri]); size++;
      dst[oi] = f(sum / size);
      ri += stride; oi += stride;
    }
    for (let i = 0; i < p3; i++) {
      sum = f(sum + src[ri]); sum = f(sum - src[li]);
      dst[oi] = f(sum / size);
      li += stride; ri += stride; oi += stride;
    }
    for (let i = 0; i < p4; i++) {
      sum = f(sum - src[li]); size--;
      dst[oi] = f(sum / size);
      li += stride; oi += stride;
    }
  }

  function jarosz(buf1, buf2, rows, cols, winRows, winCols, passes) {
    for (let n = 0; n < passes; n++) {
      for (let i = 0; i < rows; i++) box1d(buf1, buf2, i * cols, cols, 1, winRows);
      for (let j = 0; j < cols; j++) box1d(buf2, buf1, j, rows, cols, winCols);
    }
  }

  function decimate(buf, rows, cols) {
    const out = new Float32Array(64 * 64);
    for (let i = 0; i < 64; i++) {
      const ini = Math.floor(((i + 0.5) * rows) / 64);
      for (let j = 0; j < 64; j++) {
        const inj = Math.floor(((j + 0.5) * cols) / 64);
        out[i * 64 + j] = buf[ini * cols + inj];
      }
    }
    return out;
  }

  function quality(b) {
    let sum = 0;
    for (let i = 0; i < 63; i++) {
      for (let j = 0; j < 64; j++) {
        const d = Math.trunc(f(f(f(b[i * 64 + j] - b[(i + 1) * 64 + j]) * 100) / 255));
        sum += Math.abs(d);
      }
    }
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 63; j++) {
        const d = Math.trunc(f(f(f(b[i * 64 + j] - b[i * 64 + j + 1]) * 100) / 255));
        sum += Math.abs(d);
      }
    }
    return Math.min(Math.floor(sum / 90), 100);
  }

  let dctMatrix = null;
  function dct() {
    if (dctMatrix) return dctMatrix;
    dctMatrix = new Float32Array(16 * 64);
    const scale = Math.sqrt(2.0 / 64.0);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 64; j++) {
        dctMatrix[i * 64 + j] = f(scale * Math.cos((Math.PI / 2 / 64.0) * (i + 1) * (2 * j + 1)));
      }
    }
    return dctMatrix;
  }

  // B = D A D^T: 64x64 -> 16x16.
  function dct64To16(a) {
    const d = dct();
    const t = new Float32Array(16 * 64);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 64; j++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s = f(s + f(d[i * 64 + k] * a[k * 64 + j]));
        t[i * 64 + j] = s;
      }
    }
    const b = new Float32Array(256);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s = f(s + f(t[i * 64 + k] * d[j * 64 + k]));
        b[i * 16 + j] = s;
      }
    }
    return b;
  }

  // Torben's median (torben.cpp): the lower median for an even count.
  function torben(m) {
    const n = m.length;
    let min = m[0], max = m[0];
    for (let i = 1; i < n; i++) { if (m[i] < min) min = m[i]; if (m[i] > max) max = m[i]; }
    let less, greater, equal, guess, maxlt, mingt;
    const half = Math.floor((n + 1) / 2);
    for (;;) {
      guess = f((min + max) / 2);
      less = 0; greater = 0; equal = 0; maxlt = min; mingt = max;
      for (let i = 0; i < n; i++) {
        if (m[i] < guess) { less++; if (m[i] > maxlt) maxlt = m[i]; }
        else if (m[i] > guess) { greater++; if (m[i] < mingt) mingt = m[i]; }
        else equal++;
      }
      if (less <= half && greater <= half) break;
      if (less > greater) max = maxlt; else min = mingt;
    }
    if (less >= half) return maxlt;
    if (less + equal >= half) return guess;
    return mingt;
  }

  function toHex(b) {
    const median = torben(b);
    const words = new Uint16Array(16);
    for (let k = 0; k < 256; k++) {
      if (b[k] > median) words[k >> 4] |= 1 << (k & 15);
    }
    let hex = "";
    for (let w = 15; w >= 0; w--) hex += words[w].toString(16).padStart(4, "0");
    return hex;
  }

  // {hash: 64 hex digits, quality: 0..100} of RGBA pixels (ImageData's layout).
  function fromRgba(rgba, width, height) {
    if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) return null;
    const n = width * height;
    const buf1 = new Float32Array(n);
    const buf2 = new Float32Array(n);
    for (let p = 0, q = 0; p < n; p++, q += 4) {
      buf1[p] = f(rgba[q] * 0.299 + rgba[q + 1] * 0.587 + rgba[q + 2] * 0.114);
    }
    jarosz(buf1, buf2, height, width, windowSize(width, 64), windowSize(height, 64), 2);
    const block = decimate(buf1, height, width);
    return {hash: toHex(dct64To16(block)), quality: quality(block)};
  }

  // The picture's pixels as its file says (no colour-profile conversion, no EXIF rotation),
  // as the server's decoder reads them.
  async function fromBlob(blob) {
    const options = {colorSpaceConversion: "none", premultiplyAlpha: "none"};
    let bitmap;
    try {
      // Pillow does not turn a picture by its EXIF orientation: neither do we.
      bitmap = await createImageBitmap(blob, Object.assign({imageOrientation: "none"}, options));
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      bitmap = await createImageBitmap(blob, options);  // an older browser
    }
    try {
      const w = bitmap.width, h = bitmap.height;
      if (w * h > MAX_PIXELS) return null;
      const canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(w, h)
        : Object.assign(document.createElement("canvas"), {width: w, height: h});
      const ctx = canvas.getContext("2d", {willReadFrequently: true});
      ctx.drawImage(bitmap, 0, 0);
      return fromRgba(ctx.getImageData(0, 0, w, h).data, w, h);
    } finally {
      bitmap.close();
    }
  }

  window.hotlinePdq = {fromRgba: fromRgba, fromBlob: fromBlob};
})();
