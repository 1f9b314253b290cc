;; f32 matrix products for the CPU backend's matmul, in WebAssembly SIMD, summed in float64:
;; C[i][j] = Σ_p A[i][p]·B[j][p] for row-major f32 A (m × k) and B (n × k), each product exact in
;; float64 and each output's sum kept in two lanes, even p and odd p, each in order of p, added at
;; the end and rounded to f32 once. gemm.ts's JavaScript loops sum in the same order: the same
;; values with or without SIMD, whatever the blocking (so results do not depend on m).
(module
  (import "env" "memory" (memory 1))

  ;; C (row stride ldc floats, at c) for m rows of A (m a multiple of 4) and n rows of B (n even),
  ;; k floats per row; a, b, c byte addresses. Blocks of four rows of A by two rows of B: each
  ;; step loads two floats of each of the six rows, promoted to float64 pairs.
  (func (export "gemmNTf32") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $n i32) (param $k i32) (param $ldc i32)
    (local $i i32) (local $j i32) (local $p i32) (local $pairs i32) (local $rowBytes i32) (local $ldcBytes i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $b0 i32) (local $b1 i32) (local $out i32)
    (local $x v128) (local $u v128) (local $v v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128) (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 2)))
    (local.set $ldcBytes (i32.shl (local.get $ldc) (i32.const 2)))
    ;; bytes of the whole pairs of floats in a row
    (local.set $pairs (i32.shl (i32.and (local.get $k) (i32.const -2)) (i32.const 2)))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $m)))
      (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $a1 (i32.add (local.get $a0) (local.get $rowBytes)))
      (local.set $a2 (i32.add (local.get $a1) (local.get $rowBytes)))
      (local.set $a3 (i32.add (local.get $a2) (local.get $rowBytes)))
      (local.set $j (i32.const 0))
      (block $colsDone (loop $cols
        (br_if $colsDone (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $b0 (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $b1 (i32.add (local.get $b0) (local.get $rowBytes)))
        (local.set $s00 (v128.const f64x2 0 0))
        (local.set $s01 (v128.const f64x2 0 0))
        (local.set $s10 (v128.const f64x2 0 0))
        (local.set $s11 (v128.const f64x2 0 0))
        (local.set $s20 (v128.const f64x2 0 0))
        (local.set $s21 (v128.const f64x2 0 0))
        (local.set $s30 (v128.const f64x2 0 0))
        (local.set $s31 (v128.const f64x2 0 0))
        (local.set $p (i32.const 0))
        (block $pairsDone (loop $steps
          (br_if $pairsDone (i32.ge_s (local.get $p) (local.get $pairs)))
          (local.set $u (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $b0) (local.get $p)))))
          (local.set $v (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $b1) (local.get $p)))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $a0) (local.get $p)))))
          (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $x) (local.get $v))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $a1) (local.get $p)))))
          (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $x) (local.get $v))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $a2) (local.get $p)))))
          (local.set $s20 (f64x2.add (local.get $s20) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s21 (f64x2.add (local.get $s21) (f64x2.mul (local.get $x) (local.get $v))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $a3) (local.get $p)))))
          (local.set $s30 (f64x2.add (local.get $s30) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s31 (f64x2.add (local.get $s31) (f64x2.mul (local.get $x) (local.get $v))))
          (local.set $p (i32.add (local.get $p) (i32.const 8)))
          (br $steps)))
        ;; an odd k: the last float goes to the even lane (the odd lane adds +0, which changes nothing)
        (if (i32.lt_s (local.get $p) (local.get $rowBytes))
          (then
          (local.set $u (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $b0) (local.get $p)))))
          (local.set $v (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $b1) (local.get $p)))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $a0) (local.get $p)))))
          (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $x) (local.get $v))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $a1) (local.get $p)))))
          (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $x) (local.get $v))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $a2) (local.get $p)))))
          (local.set $s20 (f64x2.add (local.get $s20) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s21 (f64x2.add (local.get $s21) (f64x2.mul (local.get $x) (local.get $v))))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $a3) (local.get $p)))))
          (local.set $s30 (f64x2.add (local.get $s30) (f64x2.mul (local.get $x) (local.get $u))))
          (local.set $s31 (f64x2.add (local.get $s31) (f64x2.mul (local.get $x) (local.get $v))))))
        ;; row r of the block at $out, moving down ldc floats a row
        (local.set $out (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
        (f32.store (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s00)) (f64x2.extract_lane 1 (local.get $s00)))))
        (f32.store offset=4 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s01)) (f64x2.extract_lane 1 (local.get $s01)))))
        (local.set $out (i32.add (local.get $out) (local.get $ldcBytes)))
        (f32.store (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s10)) (f64x2.extract_lane 1 (local.get $s10)))))
        (f32.store offset=4 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s11)) (f64x2.extract_lane 1 (local.get $s11)))))
        (local.set $out (i32.add (local.get $out) (local.get $ldcBytes)))
        (f32.store (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s20)) (f64x2.extract_lane 1 (local.get $s20)))))
        (f32.store offset=4 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s21)) (f64x2.extract_lane 1 (local.get $s21)))))
        (local.set $out (i32.add (local.get $out) (local.get $ldcBytes)))
        (f32.store (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s30)) (f64x2.extract_lane 1 (local.get $s30)))))
        (f32.store offset=4 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s31)) (f64x2.extract_lane 1 (local.get $s31)))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $cols)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $rows))))

  ;; One row of A (k floats at a) times n rows of B (n ≥ 4): C[j] (f32 at c + 4j) = A·B[j], four
  ;; rows of B a step (the last step on rows n − 4 … n − 1, recomputing up to three outputs with the
  ;; same values), each output's sum in gemmNTf32's two lanes and order: the same values as a row of
  ;; a four-row block, without computing three padding rows (a decode step's product). Four
  ;; independent sums keep the adds' latency hidden, and each two floats of A are loaded once for
  ;; four rows.
  (func (export "gemvNTf32") (param $a i32) (param $b i32) (param $c i32) (param $n i32) (param $k i32)
    (local $j i32) (local $p i32) (local $pairs i32) (local $rowBytes i32) (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32)
    (local $x v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $out i32)
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 2)))
    (local.set $pairs (i32.shl (i32.and (local.get $k) (i32.const -2)) (i32.const 2)))
    (block $quadsDone (loop $quadCols
      (br_if $quadsDone (i32.ge_s (local.get $j) (local.get $n)))
      ;; a last step past n moves back to rows n − 4 … n − 1
      (if (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)) (then (local.set $j (i32.sub (local.get $n) (i32.const 4)))))
      (local.set $b0 (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $rowBytes))))
      (local.set $out (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $b1 (i32.add (local.get $b0) (local.get $rowBytes)))
      (local.set $b2 (i32.add (local.get $b1) (local.get $rowBytes)))
      (local.set $b3 (i32.add (local.get $b2) (local.get $rowBytes)))
      (local.set $s0 (v128.const f64x2 0 0))
      (local.set $s1 (v128.const f64x2 0 0))
      (local.set $s2 (v128.const f64x2 0 0))
      (local.set $s3 (v128.const f64x2 0 0))
      (local.set $p (i32.const 0))
      (block $pairsDone (loop $steps
        (br_if $pairsDone (i32.ge_s (local.get $p) (local.get $pairs)))
        (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $a) (local.get $p)))))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $x)
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $b0) (local.get $p)))))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $x)
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $b1) (local.get $p)))))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $x)
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $b2) (local.get $p)))))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $x)
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $b3) (local.get $p)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $steps)))
      ;; an odd k: as gemmNTf32, the last float into the even lane by the same vector operations
      (if (i32.lt_s (local.get $p) (local.get $rowBytes))
        (then
          (local.set $x (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $a) (local.get $p)))))
          (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $x)
            (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $b0) (local.get $p)))))))
          (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $x)
            (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $b1) (local.get $p)))))))
          (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $x)
            (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $b2) (local.get $p)))))))
          (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $x)
            (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $b3) (local.get $p)))))))))
      (f32.store (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0)))))
      (f32.store offset=4 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))))
      (f32.store offset=8 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2)))))
      (f32.store offset=12 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $quadCols))))

  ;; gemvNTf32 for B stored in half precision (f16 or bf16 bit patterns, 2 bytes an element, at b):
  ;; the same sums in the same order, so the same values as gemvNTf32 on B widened to f32, reading
  ;; half the bytes. bf16 ($f16 = 0) shifted into the top half of a lane is its f32 exactly. An f16
  ;; h ($f16 = 1) becomes the f32 pattern (sign-extended h << 13) & 0x8fffe000: sign, exponent and
  ;; mantissa in place with the exponent 112 short, made up by $scale = 2^112 on A's row (exact in
  ;; float64; so is every product, subnormal f16 included). f16 infinities and NaNs (exponent bits
  ;; all set) are found eight at a time and their chunk is taken pair by pair with those lanes set
  ;; exactly. $xs: 8·(k + 1) bytes of scratch on 16 bytes, for A's row in float64 (times $scale) and
  ;; a zero after it.
  (func (export "gemvNTHalf") (param $a i32) (param $xs i32) (param $b i32) (param $c i32) (param $n i32) (param $k i32)
    (param $f16 i32) (param $scale f64)
    (local $j i32) (local $p i32) (local $q i32) (local $xq i32) (local $rowBytes i32) (local $chunkBytes i32)
    (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32) (local $out i32)
    (local $cm v128) (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $lo v128) (local $hi v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (block $widened (loop $widen
      (br_if $widened (i32.ge_s (local.get $p) (local.get $k)))
      (f64.store (i32.add (local.get $xs) (i32.shl (local.get $p) (i32.const 3)))
        (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $a) (i32.shl (local.get $p) (i32.const 2))))) (local.get $scale)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $widen)))
    (f64.store (i32.add (local.get $xs) (i32.shl (local.get $k) (i32.const 3))) (f64.const 0))
    (local.set $cm (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 1)))
    (local.set $chunkBytes (i32.shl (i32.and (local.get $k) (i32.const -8)) (i32.const 1)))
    (block $quadsDone (loop $quadCols
      (br_if $quadsDone (i32.ge_s (local.get $j) (local.get $n)))
      (if (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)) (then (local.set $j (i32.sub (local.get $n) (i32.const 4)))))
      (local.set $b0 (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $rowBytes))))
      (local.set $out (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $b1 (i32.add (local.get $b0) (local.get $rowBytes)))
      (local.set $b2 (i32.add (local.get $b1) (local.get $rowBytes)))
      (local.set $b3 (i32.add (local.get $b2) (local.get $rowBytes)))
      (local.set $s0 (v128.const f64x2 0 0))
      (local.set $s1 (v128.const f64x2 0 0))
      (local.set $s2 (v128.const f64x2 0 0))
      (local.set $s3 (v128.const f64x2 0 0))
      (local.set $q (i32.const 0))
      (local.set $xq (local.get $xs))
      (block $chunksDone (loop $chunks
        (br_if $chunksDone (i32.ge_s (local.get $q) (local.get $chunkBytes)))
        (local.set $h0 (v128.load (i32.add (local.get $b0) (local.get $q))))
        (local.set $h1 (v128.load (i32.add (local.get $b1) (local.get $q))))
        (local.set $h2 (v128.load (i32.add (local.get $b2) (local.get $q))))
        (local.set $h3 (v128.load (i32.add (local.get $b3) (local.get $q))))
        (if (local.get $f16) (then
          (if (v128.any_true (v128.or
                (v128.or (i16x8.eq (v128.and (local.get $h0) (local.get $cm)) (local.get $cm)) (i16x8.eq (v128.and (local.get $h1) (local.get $cm)) (local.get $cm)))
                (v128.or (i16x8.eq (v128.and (local.get $h2) (local.get $cm)) (local.get $cm)) (i16x8.eq (v128.and (local.get $h3) (local.get $cm)) (local.get $cm)))))
            (then
              (local.set $s0 (call $halfPairs (local.get $s0) (i32.add (local.get $b0) (local.get $q)) (local.get $xq) (i32.const 8) (local.get $f16)))
              (local.set $s1 (call $halfPairs (local.get $s1) (i32.add (local.get $b1) (local.get $q)) (local.get $xq) (i32.const 8) (local.get $f16)))
              (local.set $s2 (call $halfPairs (local.get $s2) (i32.add (local.get $b2) (local.get $q)) (local.get $xq) (i32.const 8) (local.get $f16)))
              (local.set $s3 (call $halfPairs (local.get $s3) (i32.add (local.get $b3) (local.get $q)) (local.get $xq) (i32.const 8) (local.get $f16)))
              (local.set $q (i32.add (local.get $q) (i32.const 16)))
              (local.set $xq (i32.add (local.get $xq) (i32.const 64)))
              (br $chunks)))))
        (local.set $x0 (v128.load (local.get $xq)))
        (local.set $x1 (v128.load offset=16 (local.get $xq)))
        (local.set $x2 (v128.load offset=32 (local.get $xq)))
        (local.set $x3 (v128.load offset=48 (local.get $xq)))
        ;; the widening written out in the loop: V8 does not inline calls between WebAssembly functions,
        ;; and a call a row here made the kernel 2.7× slower
        (local.set $lo (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h0)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h0)) (i32.const 16)))))
        (local.set $hi (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h0)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h0)) (i32.const 16)))))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $x0) (f64x2.promote_low_f32x4 (local.get $lo)))))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $x1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $x2) (f64x2.promote_low_f32x4 (local.get $hi)))))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $x3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))))
        (local.set $lo (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h1)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h1)) (i32.const 16)))))
        (local.set $hi (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h1)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h1)) (i32.const 16)))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $x0) (f64x2.promote_low_f32x4 (local.get $lo)))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $x1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $x2) (f64x2.promote_low_f32x4 (local.get $hi)))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $x3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))))
        (local.set $lo (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h2)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h2)) (i32.const 16)))))
        (local.set $hi (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h2)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h2)) (i32.const 16)))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $x0) (f64x2.promote_low_f32x4 (local.get $lo)))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $x1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $x2) (f64x2.promote_low_f32x4 (local.get $hi)))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $x3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))))
        (local.set $lo (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h3)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h3)) (i32.const 16)))))
        (local.set $hi (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h3)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h3)) (i32.const 16)))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $x0) (f64x2.promote_low_f32x4 (local.get $lo)))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $x1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $x2) (f64x2.promote_low_f32x4 (local.get $hi)))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $x3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $xq (i32.add (local.get $xq) (i32.const 64)))
        (br $chunks)))
      ;; the last k mod 8 halves, pair by pair (an odd last one in the even lane, as gemvNTf32)
      (if (i32.lt_s (local.get $q) (local.get $rowBytes))
        (then
          (local.set $s0 (call $halfPairs (local.get $s0) (i32.add (local.get $b0) (local.get $q)) (local.get $xq) (i32.sub (local.get $k) (i32.and (local.get $k) (i32.const -8))) (local.get $f16)))
          (local.set $s1 (call $halfPairs (local.get $s1) (i32.add (local.get $b1) (local.get $q)) (local.get $xq) (i32.sub (local.get $k) (i32.and (local.get $k) (i32.const -8))) (local.get $f16)))
          (local.set $s2 (call $halfPairs (local.get $s2) (i32.add (local.get $b2) (local.get $q)) (local.get $xq) (i32.sub (local.get $k) (i32.and (local.get $k) (i32.const -8))) (local.get $f16)))
          (local.set $s3 (call $halfPairs (local.get $s3) (i32.add (local.get $b3) (local.get $q)) (local.get $xq) (i32.sub (local.get $k) (i32.and (local.get $k) (i32.const -8))) (local.get $f16)))))
      (f32.store (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0)))))
      (f32.store offset=4 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))))
      (f32.store offset=8 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2)))))
      (f32.store offset=12 (local.get $out) (f32.demote_f64 (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $quadCols))))

  ;; The f32 bit patterns of halves 0 … 3 of h: bf16 shifted into the top half; f16 placed with its
  ;; exponent 112 short (see gemvNTHalf), infinities and NaNs aside. For the pair-by-pair and
  ;; one-by-one paths; the eight-at-a-time loops write the same two expressions out.
  (func $halfBitsLow (param $h v128) (param $f16 i32) (result v128)
    (if (result v128) (local.get $f16)
      (then (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000)))
      (else (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h)) (i32.const 16)))))

  ;; $count half-precision values at $src (bit patterns) widened to f32 at $dst, exactly: the
  ;; patterns of gemvNTHalf times $scale in f32 (exact: an f16 subnormal's pattern is an exact f32
  ;; subnormal), eight a step; a step with an f16 infinity or NaN sets those lanes after. $dst must
  ;; not overlap what is still to be read.
  (func (export "widenHalf") (param $src i32) (param $dst i32) (param $count i32) (param $f16 i32) (param $scale f32)
    (local $i i32) (local $h v128) (local $f v128) (local $at i32)
    (local.set $f (f32x4.splat (local.get $scale)))
    (block $done (loop $steps
      (br_if $done (i32.gt_s (i32.add (local.get $i) (i32.const 8)) (local.get $count)))
      (local.set $h (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
      (local.set $at (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
      (v128.store (local.get $at) (f32x4.mul (local.get $f) (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h)) (i32.const 16))))))
      (v128.store offset=16 (local.get $at) (f32x4.mul (local.get $f) (if (result v128) (local.get $f16) (then (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))) (else (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h)) (i32.const 16))))))
      (if (local.get $f16) (then
        (if (v128.any_true (i16x8.eq (v128.and (local.get $h) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))) (then
          (call $widenSpecials (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1))) (local.get $at) (i32.const 8))))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $steps)))
    ;; the last count mod 8, one at a time
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_s (local.get $i) (local.get $count)))
      (local.set $at (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
      (f32.store (local.get $at) (f32.mul (local.get $scale) (f32x4.extract_lane 0
        (call $halfBitsLow (i16x8.replace_lane 0 (v128.const i32x4 0 0 0 0) (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1))))) (local.get $f16)))))
      (if (local.get $f16) (then (call $widenSpecials (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1))) (local.get $at) (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail))))

  ;; The f16 infinities and NaNs among $count halves at $src, written as f32 at $dst.
  (func $widenSpecials (param $src i32) (param $dst i32) (param $count i32)
    (local $i i32) (local $h i32)
    (block $done (loop $lanes
      (br_if $done (i32.ge_s (local.get $i) (local.get $count)))
      (local.set $h (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
      (if (i32.eq (i32.and (local.get $h) (i32.const 0x7c00)) (i32.const 0x7c00))
        (then (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))) (f32.demote_f64 (call $specialHalf (local.get $h))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $lanes))))

  ;; $s plus the products of $count halves at $at (one row of gemvNTHalf's B) with A's float64 row
  ;; at $xq, a pair a step (a last single half in the even lane, the odd lane's zero times zero):
  ;; the same additions as the eight-at-a-time loop, each lane exact, infinities and NaNs included.
  (func $halfPairs (param $s v128) (param $at i32) (param $xq i32) (param $count i32) (param $f16 i32) (result v128)
    (block $done (loop $pairs
      (br_if $done (i32.le_s (local.get $count) (i32.const 0)))
      (local.set $s (f64x2.add (local.get $s) (f64x2.mul (v128.load (local.get $xq))
        (call $halfPair (local.get $at) (i32.ge_s (local.get $count) (i32.const 2)) (local.get $f16)))))
      (local.set $at (i32.add (local.get $at) (i32.const 4)))
      (local.set $xq (i32.add (local.get $xq) (i32.const 16)))
      (local.set $count (i32.sub (local.get $count) (i32.const 2)))
      (br $pairs)))
    (local.get $s))

  ;; Two halves at $at (or one, with $two = 0: the odd lane zero) as float64 values scaled as in
  ;; gemvNTHalf; an f16 infinity or NaN set to that value.
  (func $halfPair (param $at i32) (param $two i32) (param $f16 i32) (result v128)
    (local $bits v128) (local $raw v128) (local $h i32)
    (local.set $bits (if (result v128) (local.get $two)
      (then (v128.load32_zero (local.get $at)))
      (else (i16x8.replace_lane 0 (v128.const i32x4 0 0 0 0) (i32.load16_u (local.get $at))))))
    (local.set $raw (f64x2.promote_low_f32x4 (call $halfBitsLow (local.get $bits) (local.get $f16))))
    (if (local.get $f16) (then
      (local.set $h (i16x8.extract_lane_u 0 (local.get $bits)))
      (if (i32.eq (i32.and (local.get $h) (i32.const 0x7c00)) (i32.const 0x7c00))
        (then (local.set $raw (f64x2.replace_lane 0 (local.get $raw) (call $specialHalf (local.get $h))))))
      (local.set $h (i16x8.extract_lane_u 1 (local.get $bits)))
      (if (i32.and (local.get $two) (i32.eq (i32.and (local.get $h) (i32.const 0x7c00)) (i32.const 0x7c00)))
        (then (local.set $raw (f64x2.replace_lane 1 (local.get $raw) (call $specialHalf (local.get $h))))))))
    (local.get $raw))

    ;; An f16 infinity (mantissa zero) or NaN, with its sign.
  (func $specialHalf (param $h i32) (result f64)
    (local $v f64)
    (local.set $v (select (f64.const inf) (f64.const nan) (i32.eqz (i32.and (local.get $h) (i32.const 0x3ff)))))
    (select (f64.neg (local.get $v)) (local.get $v) (i32.and (local.get $h) (i32.const 0x8000))))
)
