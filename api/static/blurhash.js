// A small BlurHash decoder (https://blurha.sh, the algorithm of the reference decoder):
// the placeholder is painted into a tiny canvas that CSS stretches under the image.

const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

function decode83(text) {
  let value = 0;
  for (const ch of text) {
    const digit = DIGITS.indexOf(ch);
    if (digit < 0) throw new Error(`invalid BlurHash character ${ch}`);
    value = value * 83 + digit;
  }
  return value;
}

const toLinear = (v) => {
  const x = v / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
};

const toSRGB = (v) => {
  const x = Math.max(0, Math.min(1, v));
  return x <= 0.0031308 ? Math.round(x * 12.92 * 255 + 0.5) : Math.round((1.055 * x ** (1 / 2.4) - 0.055) * 255 + 0.5);
};

const signPow = (v, e) => Math.sign(v) * Math.abs(v) ** e;

/** RGBA pixels (Uint8ClampedArray, width*height*4) of ``hash``. */
export function decode(hash, width, height, punch = 1) {
  if (!hash || hash.length < 6) throw new Error("BlurHash too short");
  const sizeFlag = decode83(hash[0]);
  const numY = Math.floor(sizeFlag / 9) + 1;
  const numX = (sizeFlag % 9) + 1;
  if (hash.length !== 4 + 2 * numX * numY) throw new Error("BlurHash length mismatch");
  const maximum = (decode83(hash[1]) + 1) / 166;
  const colors = [];
  const dc = decode83(hash.substring(2, 6));
  colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
  for (let i = 1; i < numX * numY; i++) {
    const value = decode83(hash.substring(4 + i * 2, 6 + i * 2));
    const r = Math.floor(value / (19 * 19));
    const g = Math.floor(value / 19) % 19;
    const b = value % 19;
    const scale = maximum * punch;
    colors.push([signPow((r - 9) / 9, 2) * scale, signPow((g - 9) / 9, 2) * scale, signPow((b - 9) / 9, 2) * scale]);
  }
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < numY; j++) {
        const cy = Math.cos((Math.PI * y * j) / height);
        for (let i = 0; i < numX; i++) {
          const basis = Math.cos((Math.PI * x * i) / width) * cy;
          const color = colors[i + j * numX];
          r += color[0] * basis;
          g += color[1] * basis;
          b += color[2] * basis;
        }
      }
      const at = 4 * (x + y * width);
      pixels[at] = toSRGB(r);
      pixels[at + 1] = toSRGB(g);
      pixels[at + 2] = toSRGB(b);
      pixels[at + 3] = 255;
    }
  }
  return pixels;
}

/** A 32x32 canvas painted with ``hash``, or null if the hash is unusable. */
export function canvasFor(hash, size = 32) {
  try {
    const pixels = decode(hash, size, size);
    const canvas = document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext("2d");
    ctx.putImageData(new ImageData(pixels, size, size), 0, 0);
    return canvas;
  } catch {
    return null;
  }
}
