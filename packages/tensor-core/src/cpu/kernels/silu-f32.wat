;; SiLU, x·σ(x) = x / (1 + e^−x), over f32 values in WebAssembly SIMD, four at a time, for the CPU
;; backend's `silu` on f32 tensors (the gate of every Llama MLP). Written with t = e^−|x| ≤ 1, which
;; never overflows: x / (1 + t) for x ≥ 0 and x·t / (1 + t) below, the same function. e^y for y ≤ 0
;; is Cephes' expf scheme: y = n·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 in two parts, so r is exact), a
;; degree-6 polynomial for e^r, and 2^n put in by the exponent bits. Within 4 ulp of the float64
;; formula over the whole f32 range, subnormal results included (the tests sweep it); NaN stays
;; NaN, ±∞ give what the formula gives.
(module
  (import "env" "memory" (memory 1))

  ;; dst[i] = silu(src[i]) for i < count (f32 at byte addresses src and dst, which may be the same);
  ;; count a multiple of 4 (the caller pads). e^y is written out in the loop: as a function of its
  ;; own (V8 does not inline calls between WebAssembly functions) the loop ran 1.5× slower.
  (func (export "siluF32") (param $src i32) (param $dst i32) (param $count i32)
    (local $i i32) (local $end i32) (local $x v128) (local $y v128) (local $k v128) (local $n v128) (local $r v128) (local $p v128) (local $t v128) (local $live v128)
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $done (loop $quads
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $x (v128.load (i32.add (local.get $src) (local.get $i))))
      ;; e^y, y = −|x| ≤ 0; below −120 (where |x|·e^x is under half the smallest f32 subnormal) it is
      ;; taken as 0 ($live; a NaN is not live either), and y is clamped there so the scale stays normal
      (local.set $y (f32x4.neg (f32x4.abs (local.get $x))))
      (local.set $live (f32x4.ge (local.get $y) (v128.const f32x4 -120 -120 -120 -120)))
      (local.set $y (f32x4.pmax (local.get $y) (v128.const f32x4 -120 -120 -120 -120)))
      ;; n = round(y·log2 e) by adding and subtracting 1.5·2^23: the addition rounds to an integer,
      ;; and the sum's bits are 0x4b400000 + n (nearest and a saturating conversion take several
      ;; instructions each in V8's SSE code)
      (local.set $k (f32x4.add (f32x4.mul (local.get $y) (v128.const f32x4 1.44269504089 1.44269504089 1.44269504089 1.44269504089)) (v128.const f32x4 12582912 12582912 12582912 12582912)))
      (local.set $n (f32x4.sub (local.get $k) (v128.const f32x4 12582912 12582912 12582912 12582912)))
      ;; r = y − n·ln 2, ln 2 = 0.693359375 − 2.12194440e−4 (the first part has few bits: n times it is exact)
      (local.set $r (f32x4.sub (f32x4.sub (local.get $y) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
        (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
      ;; e^r ≈ 1 + r + r²·(1/2 + r·(1/6 + r·(1/24 + r·(1/120 + r·(1/720 + r/5040))))) (Cephes' fitted coefficients)
      (local.set $p (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
      (local.set $p (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $r)) (local.get $r)) (local.get $r)) (v128.const f32x4 1 1 1 1)))
      ;; t = e^y·2^64 = p·2^(n + 64) (n ≥ −173: a normal scale)
      (local.set $t (v128.and (local.get $live)
        (f32x4.mul (local.get $p) (i32x4.shl (i32x4.sub (local.get $k) (v128.const i32x4 0x4b3fff41 0x4b3fff41 0x4b3fff41 0x4b3fff41)) (i32.const 23)))))
      ;; x ≥ 0: x / (1 + e^y); x < 0: x·e^y / (1 + e^y), with x·e^y as (x·t)·2^−64, so that a result
      ;; among the subnormals rounds once (NaN takes the second: NaN either way)
      (v128.store (i32.add (local.get $dst) (local.get $i))
        (f32x4.div
          (v128.bitselect (local.get $x)
            (f32x4.mul (f32x4.mul (local.get $x) (local.get $t)) (v128.const f32x4 5.42101086e-20 5.42101086e-20 5.42101086e-20 5.42101086e-20))
            (f32x4.ge (local.get $x) (v128.const f32x4 0 0 0 0)))
          (f32x4.add (f32x4.mul (local.get $t) (v128.const f32x4 5.42101086e-20 5.42101086e-20 5.42101086e-20 5.42101086e-20)) (v128.const f32x4 1 1 1 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $quads))))
)
