;; f32 matrix products summed in f32 (matmul's `accumulate: 'f32'` on the CPU): C[i][j] = Σ_p
;; A[i][p]·B[j][p] for row-major f32 A (m × k) and B (n × k), each product rounded to f32 and each
;; output's sum kept in four f32 lanes, lane p mod 4 in order of p, combined at the end as
;; (lane 0 + lane 2) + (lane 1 + lane 3). A last k mod 4 floats fill the low lanes of one more step;
;; the other lanes add 0·0. gemm.ts's JavaScript loops sum in the same order: the same values with
;; or without SIMD, whatever the blocking. Four f32 lanes an instruction instead of gemm-f32.wat's
;; two float64 ones, and no widening: ≈ 1.9× the float64 kernel's speed on several rows.
(module
  (import "env" "memory" (memory 1))

  ;; The first $count (1 … 3) floats at $at in the low lanes, zeros above: no read past them (a
  ;; row may end at the end of memory).
  (func $floatTail (param $at i32) (param $count i32) (result v128)
    (if (result v128) (i32.eq (local.get $count) (i32.const 1))
      (then (v128.load32_zero (local.get $at)))
      (else (if (result v128) (i32.eq (local.get $count) (i32.const 2))
        (then (v128.load64_zero (local.get $at)))
        (else (v128.load32_lane offset=8 2 (local.get $at) (v128.load64_zero (local.get $at))))))))

  ;; An output from its four lanes: (lane 0 + lane 2) + (lane 1 + lane 3).
  (func $laneSum (param $s v128) (result f32)
    (local.set $s (f32x4.add (local.get $s) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $s) (local.get $s))))
    (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s))))

  ;; C (row stride ldc floats, at c) for m rows of A (m a multiple of 4) and n rows of B (n even),
  ;; k floats per row; a, b, c byte addresses. Blocks of four rows of A by two rows of B: each step
  ;; loads four floats of each of the six rows.
  (func (export "gemmNTF32Sums") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $n i32) (param $k i32) (param $ldc i32)
    (local $i i32) (local $j i32) (local $p i32) (local $quads i32) (local $tail i32) (local $rowBytes i32) (local $ldcBytes i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $b0 i32) (local $b1 i32) (local $out i32)
    (local $x v128) (local $u v128) (local $v v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128) (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 2)))
    (local.set $ldcBytes (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $quads (i32.shl (i32.and (local.get $k) (i32.const -4)) (i32.const 2)))
    (local.set $tail (i32.and (local.get $k) (i32.const 3)))
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
        (local.set $s00 (v128.const f32x4 0 0 0 0))
        (local.set $s01 (v128.const f32x4 0 0 0 0))
        (local.set $s10 (v128.const f32x4 0 0 0 0))
        (local.set $s11 (v128.const f32x4 0 0 0 0))
        (local.set $s20 (v128.const f32x4 0 0 0 0))
        (local.set $s21 (v128.const f32x4 0 0 0 0))
        (local.set $s30 (v128.const f32x4 0 0 0 0))
        (local.set $s31 (v128.const f32x4 0 0 0 0))
        (local.set $p (i32.const 0))
        (block $quadsDone (loop $steps
          (br_if $quadsDone (i32.ge_s (local.get $p) (local.get $quads)))
          (local.set $u (v128.load (i32.add (local.get $b0) (local.get $p))))
          (local.set $v (v128.load (i32.add (local.get $b1) (local.get $p))))
          (local.set $x (v128.load (i32.add (local.get $a0) (local.get $p))))
          (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s01 (f32x4.add (local.get $s01) (f32x4.mul (local.get $x) (local.get $v))))
          (local.set $x (v128.load (i32.add (local.get $a1) (local.get $p))))
          (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s11 (f32x4.add (local.get $s11) (f32x4.mul (local.get $x) (local.get $v))))
          (local.set $x (v128.load (i32.add (local.get $a2) (local.get $p))))
          (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s21 (f32x4.add (local.get $s21) (f32x4.mul (local.get $x) (local.get $v))))
          (local.set $x (v128.load (i32.add (local.get $a3) (local.get $p))))
          (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s31 (f32x4.add (local.get $s31) (f32x4.mul (local.get $x) (local.get $v))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br $steps)))
        (if (local.get $tail)
          (then
          (local.set $u (call $floatTail (i32.add (local.get $b0) (local.get $p)) (local.get $tail)))
          (local.set $v (call $floatTail (i32.add (local.get $b1) (local.get $p)) (local.get $tail)))
          (local.set $x (call $floatTail (i32.add (local.get $a0) (local.get $p)) (local.get $tail)))
          (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s01 (f32x4.add (local.get $s01) (f32x4.mul (local.get $x) (local.get $v))))
          (local.set $x (call $floatTail (i32.add (local.get $a1) (local.get $p)) (local.get $tail)))
          (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s11 (f32x4.add (local.get $s11) (f32x4.mul (local.get $x) (local.get $v))))
          (local.set $x (call $floatTail (i32.add (local.get $a2) (local.get $p)) (local.get $tail)))
          (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s21 (f32x4.add (local.get $s21) (f32x4.mul (local.get $x) (local.get $v))))
          (local.set $x (call $floatTail (i32.add (local.get $a3) (local.get $p)) (local.get $tail)))
          (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (local.get $x) (local.get $u))))
          (local.set $s31 (f32x4.add (local.get $s31) (f32x4.mul (local.get $x) (local.get $v))))))
        ;; row r of the block at $out, moving down ldc floats a row
        (local.set $out (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
        (f32.store (local.get $out) (call $laneSum (local.get $s00)))
        (f32.store offset=4 (local.get $out) (call $laneSum (local.get $s01)))
        (local.set $out (i32.add (local.get $out) (local.get $ldcBytes)))
        (f32.store (local.get $out) (call $laneSum (local.get $s10)))
        (f32.store offset=4 (local.get $out) (call $laneSum (local.get $s11)))
        (local.set $out (i32.add (local.get $out) (local.get $ldcBytes)))
        (f32.store (local.get $out) (call $laneSum (local.get $s20)))
        (f32.store offset=4 (local.get $out) (call $laneSum (local.get $s21)))
        (local.set $out (i32.add (local.get $out) (local.get $ldcBytes)))
        (f32.store (local.get $out) (call $laneSum (local.get $s30)))
        (f32.store offset=4 (local.get $out) (call $laneSum (local.get $s31)))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $cols)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $rows))))

  ;; One row of A (k floats at a) times n rows of B (n ≥ 4): C[j] (f32 at c + 4j) = A·B[j], four
  ;; rows of B a step (the last step on rows n − 4 … n − 1, recomputing up to three outputs with the
  ;; same values), in gemmNTF32Sums's lanes and order: a decode step's product.
  (func (export "gemvNTF32Sums") (param $a i32) (param $b i32) (param $c i32) (param $n i32) (param $k i32)
    (local $j i32) (local $p i32) (local $quads i32) (local $tail i32) (local $rowBytes i32) (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32)
    (local $x v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $out i32)
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 2)))
    (local.set $quads (i32.shl (i32.and (local.get $k) (i32.const -4)) (i32.const 2)))
    (local.set $tail (i32.and (local.get $k) (i32.const 3)))
    (block $rowsDone (loop $quadRows
      (br_if $rowsDone (i32.ge_s (local.get $j) (local.get $n)))
      (if (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)) (then (local.set $j (i32.sub (local.get $n) (i32.const 4)))))
      (local.set $b0 (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $rowBytes))))
      (local.set $out (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $b1 (i32.add (local.get $b0) (local.get $rowBytes)))
      (local.set $b2 (i32.add (local.get $b1) (local.get $rowBytes)))
      (local.set $b3 (i32.add (local.get $b2) (local.get $rowBytes)))
      (local.set $s0 (v128.const f32x4 0 0 0 0))
      (local.set $s1 (v128.const f32x4 0 0 0 0))
      (local.set $s2 (v128.const f32x4 0 0 0 0))
      (local.set $s3 (v128.const f32x4 0 0 0 0))
      (local.set $p (i32.const 0))
      (block $quadsDone (loop $steps
        (br_if $quadsDone (i32.ge_s (local.get $p) (local.get $quads)))
        (local.set $x (v128.load (i32.add (local.get $a) (local.get $p))))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b0) (local.get $p))))))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b1) (local.get $p))))))
        (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b2) (local.get $p))))))
        (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b3) (local.get $p))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $steps)))
      (if (local.get $tail)
        (then
        (local.set $x (call $floatTail (i32.add (local.get $a) (local.get $p)) (local.get $tail)))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x) (call $floatTail (i32.add (local.get $b0) (local.get $p)) (local.get $tail)))))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x) (call $floatTail (i32.add (local.get $b1) (local.get $p)) (local.get $tail)))))
        (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x) (call $floatTail (i32.add (local.get $b2) (local.get $p)) (local.get $tail)))))
        (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x) (call $floatTail (i32.add (local.get $b3) (local.get $p)) (local.get $tail)))))))
      (f32.store (local.get $out) (call $laneSum (local.get $s0)))
      (f32.store offset=4 (local.get $out) (call $laneSum (local.get $s1)))
      (f32.store offset=8 (local.get $out) (call $laneSum (local.get $s2)))
      (f32.store offset=12 (local.get $out) (call $laneSum (local.get $s3)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $quadRows))))

  ;; Four halves' f32 values from their bit patterns (the low four 16-bit lanes of $h): bf16 ($f16 =
  ;; 0) shifted into the top half of a lane is its f32 exactly; an f16's sign, exponent and mantissa
  ;; go in place ((sign-extended h << 13) & 0x8fffe000, the exponent 112 short) and $scale = 2^112
  ;; makes the exponent up (exact, subnormals included); f16 infinities and NaNs (exponent bits all
  ;; set, now 2^16 · 1.m) get the f32 exponent's bits all set, keeping sign and mantissa.
  (func $halfValues (param $h v128) (param $f16 i32) (param $scale v128) (result v128)
    (local $bits v128)
    (if (result v128) (local.get $f16)
      (then
        (local.set $bits (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000)))
        (v128.or (f32x4.mul (local.get $bits) (local.get $scale))
          (v128.and (i32x4.eq (v128.and (local.get $bits) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000)) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000))
            (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
      (else (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h)) (i32.const 16)))))

  ;; The first $count (1 … 3) halves at $at in the low 16-bit lanes, zeros above.
  (func $halfTail (param $at i32) (param $count i32) (result v128)
    (if (result v128) (i32.eq (local.get $count) (i32.const 1))
      (then (v128.load16_lane 0 (local.get $at) (v128.const i32x4 0 0 0 0)))
      (else (if (result v128) (i32.eq (local.get $count) (i32.const 2))
        (then (v128.load32_zero (local.get $at)))
        (else (v128.load16_lane offset=4 2 (local.get $at) (v128.load32_zero (local.get $at))))))))

  ;; gemvNTF32Sums for n rows of B stored in half precision (f16 or bf16 bit patterns, 2 bytes an
  ;; element, at b; $f16 and $scale as $halfValues): the same values as gemvNTF32Sums on B widened
  ;; to f32 (the widening is exact), reading half the bytes. Eight halves of each row a step, the
  ;; widening written out in the loop (V8 does not inline calls between WebAssembly functions: a
  ;; call per four halves made it 2× slower); a step whose f16 halves hold an infinity or NaN goes
  ;; through $halfValues, which sets those lanes.
  (func (export "gemvNTHalfF32Sums") (param $a i32) (param $b i32) (param $c i32) (param $n i32) (param $k i32) (param $f16 i32) (param $scale f32)
    (local $j i32) (local $p i32) (local $q i32) (local $chunks i32) (local $rest i32) (local $rowBytes i32)
    (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32) (local $out i32)
    (local $f v128) (local $x0 v128) (local $x1 v128) (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $f (f32x4.splat (local.get $scale)))
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 1)))
    (local.set $chunks (i32.shl (i32.and (local.get $k) (i32.const -8)) (i32.const 1)))
    (block $rowsDone (loop $quadRows
      (br_if $rowsDone (i32.ge_s (local.get $j) (local.get $n)))
      (if (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)) (then (local.set $j (i32.sub (local.get $n) (i32.const 4)))))
      (local.set $b0 (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $rowBytes))))
      (local.set $out (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $b1 (i32.add (local.get $b0) (local.get $rowBytes)))
      (local.set $b2 (i32.add (local.get $b1) (local.get $rowBytes)))
      (local.set $b3 (i32.add (local.get $b2) (local.get $rowBytes)))
      (local.set $s0 (v128.const f32x4 0 0 0 0))
      (local.set $s1 (v128.const f32x4 0 0 0 0))
      (local.set $s2 (v128.const f32x4 0 0 0 0))
      (local.set $s3 (v128.const f32x4 0 0 0 0))
      ;; $q: bytes into B's rows (2 a half), $p: into A's row (4 a float)
      (local.set $q (i32.const 0))
      (local.set $p (i32.const 0))
      (block $chunksDone (loop $steps
        (br_if $chunksDone (i32.ge_s (local.get $q) (local.get $chunks)))
        (local.set $x0 (v128.load (i32.add (local.get $a) (local.get $p))))
        (local.set $x1 (v128.load offset=16 (i32.add (local.get $a) (local.get $p))))
        (local.set $h0 (v128.load (i32.add (local.get $b0) (local.get $q))))
        (local.set $h1 (v128.load (i32.add (local.get $b1) (local.get $q))))
        (local.set $h2 (v128.load (i32.add (local.get $b2) (local.get $q))))
        (local.set $h3 (v128.load (i32.add (local.get $b3) (local.get $q))))
        (if (local.get $f16)
          (then
            (if (v128.any_true (v128.or
                  (v128.or (i16x8.eq (v128.and (local.get $h0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)) (i16x8.eq (v128.and (local.get $h1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)))
                  (v128.or (i16x8.eq (v128.and (local.get $h2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)) (i16x8.eq (v128.and (local.get $h3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)))))
              (then
                (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x0) (call $halfValues (local.get $h0) (i32.const 1) (local.get $f)))))
                (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x1) (call $halfValues (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $h0) (local.get $h0)) (i32.const 1) (local.get $f)))))
                (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x0) (call $halfValues (local.get $h1) (i32.const 1) (local.get $f)))))
                (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x1) (call $halfValues (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $h1) (local.get $h1)) (i32.const 1) (local.get $f)))))
                (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x0) (call $halfValues (local.get $h2) (i32.const 1) (local.get $f)))))
                (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x1) (call $halfValues (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $h2) (local.get $h2)) (i32.const 1) (local.get $f)))))
                (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x0) (call $halfValues (local.get $h3) (i32.const 1) (local.get $f)))))
                (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x1) (call $halfValues (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $h3) (local.get $h3)) (i32.const 1) (local.get $f))))))
              (else
                (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x0) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h0)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))))))
                (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x1) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h0)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))))))
                (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x0) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h1)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))))))
                (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x1) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h1)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))))))
                (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x0) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h2)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))))))
                (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x1) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h2)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))))))
                (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x0) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h3)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))))))
                (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x1) (f32x4.mul (local.get $f) (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h3)) (i32.const 13)) (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000)))))))))
          (else
            (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x0) (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h0)) (i32.const 16)))))
            (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x1) (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h0)) (i32.const 16)))))
            (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x0) (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h1)) (i32.const 16)))))
            (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x1) (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h1)) (i32.const 16)))))
            (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x0) (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h2)) (i32.const 16)))))
            (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x1) (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h2)) (i32.const 16)))))
            (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x0) (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h3)) (i32.const 16)))))
            (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x1) (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h3)) (i32.const 16)))))))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $steps)))
      ;; the last k mod 8 halves: four, then one to three, in the low lanes
      (local.set $rest (i32.sub (local.get $k) (i32.and (local.get $k) (i32.const -8))))
      (if (i32.ge_s (local.get $rest) (i32.const 4))
        (then
          (local.set $x0 (v128.load (i32.add (local.get $a) (local.get $p))))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x0) (call $halfValues (v128.load64_zero (i32.add (local.get $b0) (local.get $q))) (local.get $f16) (local.get $f)))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x0) (call $halfValues (v128.load64_zero (i32.add (local.get $b1) (local.get $q))) (local.get $f16) (local.get $f)))))
          (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x0) (call $halfValues (v128.load64_zero (i32.add (local.get $b2) (local.get $q))) (local.get $f16) (local.get $f)))))
          (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x0) (call $halfValues (v128.load64_zero (i32.add (local.get $b3) (local.get $q))) (local.get $f16) (local.get $f)))))
          (local.set $q (i32.add (local.get $q) (i32.const 8)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $rest (i32.sub (local.get $rest) (i32.const 4)))))
      (if (local.get $rest)
        (then
          (local.set $x0 (call $floatTail (i32.add (local.get $a) (local.get $p)) (local.get $rest)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x0) (call $halfValues (call $halfTail (i32.add (local.get $b0) (local.get $q)) (local.get $rest)) (local.get $f16) (local.get $f)))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x0) (call $halfValues (call $halfTail (i32.add (local.get $b1) (local.get $q)) (local.get $rest)) (local.get $f16) (local.get $f)))))
          (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x0) (call $halfValues (call $halfTail (i32.add (local.get $b2) (local.get $q)) (local.get $rest)) (local.get $f16) (local.get $f)))))
          (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x0) (call $halfValues (call $halfTail (i32.add (local.get $b3) (local.get $q)) (local.get $rest)) (local.get $f16) (local.get $f)))))))
      (f32.store (local.get $out) (call $laneSum (local.get $s0)))
      (f32.store offset=4 (local.get $out) (call $laneSum (local.get $s1)))
      (f32.store offset=8 (local.get $out) (call $laneSum (local.get $s2)))
      (f32.store offset=12 (local.get $out) (call $laneSum (local.get $s3)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $quadRows))))
)
