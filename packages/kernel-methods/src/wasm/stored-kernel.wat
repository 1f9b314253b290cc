;; Hot loops of the stored-kernel solvers, in WebAssembly SIMD (f64x2). Every pointer is a byte
;; address in the imported memory; float64 arrays only.
(module
  (import "env" "memory" (memory 1))

  ;; Byte address p such that packed entry (i, j ≥ i) of an order-n upper triangle at `a` is p + 8j.
  (func $rowBase (param $a i32) (param $n i32) (param $i i32) (result i32)
    (i32.add (local.get $a)
      (i32.shl
        (i32.sub
          (i32.sub (i32.mul (local.get $i) (local.get $n))
                   (i32.shr_u (i32.mul (local.get $i) (i32.sub (local.get $i) (i32.const 1))) (i32.const 1)))
          (local.get $i))
        (i32.const 3))))

  ;; out[j] = exp(−γ·max(nᵢ + norms[j] − 2·out[j], 0)) for j0 ≤ j < j1, in place: dot products
  ;; xᵢ·xⱼ become Gaussian kernel values. Where the expansion cancels (near-duplicate points) the
  ;; Gaussian stays accurate (its value is ≈ 1 − γs), so no recomputation by differences is needed.
  (func $gaussianFromProducts (export "gaussianFromProducts")
    (param $row i32) (param $norms i32) (param $ni f64) (param $j0 i32) (param $j1 i32) (param $gamma f64)
    (local $j i32) (local $p i32) (local $q i32) (local $s v128) (local $nig v128) (local $g v128)
    (local.set $nig (f64x2.splat (local.get $ni)))
    (local.set $g (f64x2.splat (f64.neg (local.get $gamma))))
    (local.set $j (local.get $j0))
    (block $pairsDone (loop $pairs
      (br_if $pairsDone (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $j1)))
      (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $q (i32.add (local.get $norms) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $s (f64x2.sub (f64x2.add (local.get $nig) (v128.load (local.get $q)))
                               (f64x2.add (v128.load (local.get $p)) (v128.load (local.get $p)))))
      (v128.store (local.get $p)
        (call $exp2x (f64x2.mul (local.get $g) (f64x2.pmax (local.get $s) (v128.const f64x2 0 0)))))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $pairs)))
    (if (i32.lt_s (local.get $j) (local.get $j1))
      (then
        (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $q (i32.add (local.get $norms) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $s (f64x2.splat (f64.sub (f64.add (local.get $ni) (f64.load (local.get $q)))
                                            (f64.add (f64.load (local.get $p)) (f64.load (local.get $p))))))
        (f64.store (local.get $p)
          (f64x2.extract_lane 0
            (call $exp2x (f64x2.mul (local.get $g) (f64x2.pmax (local.get $s) (v128.const f64x2 0 0)))))))))

;; eˣ for both lanes, x ≤ 0 (x = −γs): x = k·ln2 + r with |r| ≤ ln2/2 (k rounded by the 1.5·2⁵²
  ;; shift, which also leaves k in the low mantissa bits; ln 2 split in two parts so k·ln2 is exact),
  ;; eʳ by its Taylor series to r¹³ (truncation < 1e-17), times 2ᵏ made from those bits. Within 2 ulp
  ;; of a correctly rounded exp for x ≥ −708.396; below, where eˣ is subnormal (< 2.23e-308), it gives 0.
  (func $exp2x (param $x v128) (result v128)
    (local $shifted v128) (local $k v128) (local $r v128) (local $r2 v128) (local $r4 v128) (local $p v128) (local $keep v128)
    (local.set $keep (f64x2.ge (local.get $x) (v128.const f64x2 -708.396 -708.396)))
    (local.set $x (f64x2.pmax (local.get $x) (v128.const f64x2 -708.396 -708.396)))
    (local.set $shifted (f64x2.add (f64x2.mul (local.get $x) (v128.const f64x2 1.4426950408889634 1.4426950408889634))
                                   (v128.const f64x2 6755399441055744 6755399441055744)))
    (local.set $k (f64x2.sub (local.get $shifted) (v128.const f64x2 6755399441055744 6755399441055744)))
    (local.set $r (f64x2.sub (f64x2.sub (local.get $x)
                    (f64x2.mul (local.get $k) (v128.const f64x2 6.93147180369123816490e-01 6.93147180369123816490e-01)))
                    (f64x2.mul (local.get $k) (v128.const f64x2 1.90821492927058770002e-10 1.90821492927058770002e-10))))
    ;; Estrin's scheme (pairs of coefficients, then r², r⁴, r⁸): a shallow dependency chain.
    (local.set $r2 (f64x2.mul (local.get $r) (local.get $r)))
    (local.set $r4 (f64x2.mul (local.get $r2) (local.get $r2)))
    (local.set $p
      (f64x2.add
        (f64x2.add (f64x2.add (f64x2.add (v128.const f64x2 1 1) (f64x2.mul (v128.const f64x2 1 1) (local.get $r))) (f64x2.mul (f64x2.add (v128.const f64x2 0.5 0.5) (f64x2.mul (v128.const f64x2 0.16666666666666666 0.16666666666666666) (local.get $r))) (local.get $r2)))
                   (f64x2.mul (f64x2.add (f64x2.add (v128.const f64x2 0.041666666666666664 0.041666666666666664) (f64x2.mul (v128.const f64x2 0.008333333333333333 0.008333333333333333) (local.get $r))) (f64x2.mul (f64x2.add (v128.const f64x2 0.001388888888888889 0.001388888888888889) (f64x2.mul (v128.const f64x2 0.0001984126984126984 0.0001984126984126984) (local.get $r))) (local.get $r2))) (local.get $r4)))
        (f64x2.mul
          (f64x2.add (f64x2.add (f64x2.add (v128.const f64x2 2.48015873015873e-05 2.48015873015873e-05) (f64x2.mul (v128.const f64x2 2.7557319223985893e-06 2.7557319223985893e-06) (local.get $r))) (f64x2.mul (f64x2.add (v128.const f64x2 2.755731922398589e-07 2.755731922398589e-07) (f64x2.mul (v128.const f64x2 2.505210838544172e-08 2.505210838544172e-08) (local.get $r))) (local.get $r2)))
                     (f64x2.mul (f64x2.add (v128.const f64x2 2.08767569878681e-09 2.08767569878681e-09) (f64x2.mul (v128.const f64x2 1.6059043836821613e-10 1.6059043836821613e-10) (local.get $r))) (local.get $r4)))
          (f64x2.mul (local.get $r4) (local.get $r4)))))
    ;; 2ᵏ: the low mantissa bits of `shifted` hold k; k + 1023 shifted into the exponent field.
    (v128.and (local.get $keep)
      (f64x2.mul (local.get $p)
        (i64x2.shl (i64x2.add (local.get $shifted) (v128.const i64x2 1023 1023)) (i32.const 52)))))

  ;; out += (rows [from, to) of A)·v for the packed order-n upper triangle at a, from a multiple of
  ;; 4, to a multiple of 4 or n. Four rows at a time: each stored value serves row i (a dot product,
  ;; s_r) and row j (an axpy into out[j]), two columns per f64x2. Threads give each their own range
  ;; and out, summed afterwards.
  (func (export "packedMatvecRows") (param $a i32) (param $n i32) (param $v i32) (param $out i32) (param $from i32) (param $to i32)
    (local $i0 i32) (local $i i32) (local $j i32) (local $row i32) (local $blockEnd i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $q i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $vj v128)
    (local $w f64) (local $acc f64) (local $vi f64) (local $t f64)
    (local.set $i0 (local.get $from))
    (block $blocksDone (loop $blocks
      (br_if $blocksDone (i32.gt_s (i32.add (local.get $i0) (i32.const 4)) (local.get $to)))
      (local.set $blockEnd (i32.add (local.get $i0) (i32.const 4)))
      ;; the 4×4 diagonal block, entry by entry
      (local.set $i (local.get $i0))
      (loop $diag
        (local.set $row (call $rowBase (local.get $a) (local.get $n) (local.get $i)))
        (local.set $vi (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $acc (f64.mul (f64.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3)))) (local.get $vi)))
        (local.set $j (i32.add (local.get $i) (i32.const 1)))
        (block $djDone (loop $dj
          (br_if $djDone (i32.ge_s (local.get $j) (local.get $blockEnd)))
          (local.set $q (i32.shl (local.get $j) (i32.const 3)))
          (local.set $w (f64.load (i32.add (local.get $row) (local.get $q))))
          (local.set $acc (f64.add (local.get $acc) (f64.mul (local.get $w) (f64.load (i32.add (local.get $v) (local.get $q))))))
          (f64.store (i32.add (local.get $out) (local.get $q))
            (f64.add (f64.load (i32.add (local.get $out) (local.get $q))) (f64.mul (local.get $w) (local.get $vi))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $dj)))
        (local.set $q (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3))))
        (f64.store (local.get $q) (f64.add (f64.load (local.get $q)) (local.get $acc)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $diag (i32.lt_s (local.get $i) (local.get $blockEnd))))
      ;; columns right of the block: two at a time
      (local.set $r0 (call $rowBase (local.get $a) (local.get $n) (local.get $i0)))
      (local.set $r1 (call $rowBase (local.get $a) (local.get $n) (i32.add (local.get $i0) (i32.const 1))))
      (local.set $r2 (call $rowBase (local.get $a) (local.get $n) (i32.add (local.get $i0) (i32.const 2))))
      (local.set $r3 (call $rowBase (local.get $a) (local.get $n) (i32.add (local.get $i0) (i32.const 3))))
      (local.set $q (i32.add (local.get $v) (i32.shl (local.get $i0) (i32.const 3))))
      (local.set $x0 (v128.load64_splat (local.get $q)))
      (local.set $x1 (v128.load64_splat offset=8 (local.get $q)))
      (local.set $x2 (v128.load64_splat offset=16 (local.get $q)))
      (local.set $x3 (v128.load64_splat offset=24 (local.get $q)))
      (local.set $s0 (v128.const f64x2 0 0)) (local.set $s1 (v128.const f64x2 0 0))
      (local.set $s2 (v128.const f64x2 0 0)) (local.set $s3 (v128.const f64x2 0 0))
      (local.set $j (local.get $blockEnd))
      (block $pairsDone (loop $pairs
        (br_if $pairsDone (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $n)))
        (local.set $q (i32.shl (local.get $j) (i32.const 3)))
        (local.set $a0 (v128.load (i32.add (local.get $r0) (local.get $q))))
        (local.set $a1 (v128.load (i32.add (local.get $r1) (local.get $q))))
        (local.set $a2 (v128.load (i32.add (local.get $r2) (local.get $q))))
        (local.set $a3 (v128.load (i32.add (local.get $r3) (local.get $q))))
        (local.set $vj (v128.load (i32.add (local.get $v) (local.get $q))))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $a0) (local.get $vj))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $a1) (local.get $vj))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $a2) (local.get $vj))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $a3) (local.get $vj))))
        (local.set $q (i32.add (local.get $out) (local.get $q)))
        (v128.store (local.get $q)
          (f64x2.add (v128.load (local.get $q))
            (f64x2.add
              (f64x2.add (f64x2.mul (local.get $a0) (local.get $x0)) (f64x2.mul (local.get $a1) (local.get $x1)))
              (f64x2.add (f64x2.mul (local.get $a2) (local.get $x2)) (f64x2.mul (local.get $a3) (local.get $x3))))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
      ;; an odd last column
      (if (i32.lt_s (local.get $j) (local.get $n))
        (then
          (local.set $q (i32.shl (local.get $j) (i32.const 3)))
          (local.set $vj (v128.load64_splat (i32.add (local.get $v) (local.get $q))))
          (local.set $a0 (f64x2.replace_lane 1 (v128.load64_splat (i32.add (local.get $r0) (local.get $q))) (f64.const 0)))
          (local.set $a1 (f64x2.replace_lane 1 (v128.load64_splat (i32.add (local.get $r1) (local.get $q))) (f64.const 0)))
          (local.set $a2 (f64x2.replace_lane 1 (v128.load64_splat (i32.add (local.get $r2) (local.get $q))) (f64.const 0)))
          (local.set $a3 (f64x2.replace_lane 1 (v128.load64_splat (i32.add (local.get $r3) (local.get $q))) (f64.const 0)))
          (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $a0) (local.get $vj))))
          (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $a1) (local.get $vj))))
          (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $a2) (local.get $vj))))
          (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $a3) (local.get $vj))))
          (local.set $q (i32.add (local.get $out) (local.get $q)))
          (f64.store (local.get $q)
            (f64.add (f64.load (local.get $q))
              (f64x2.extract_lane 0
                (f64x2.add
                  (f64x2.add (f64x2.mul (local.get $a0) (local.get $x0)) (f64x2.mul (local.get $a1) (local.get $x1)))
                  (f64x2.add (f64x2.mul (local.get $a2) (local.get $x2)) (f64x2.mul (local.get $a3) (local.get $x3)))))))))
      (local.set $q (i32.add (local.get $out) (i32.shl (local.get $i0) (i32.const 3))))
      (f64.store (local.get $q) (f64.add (f64.load (local.get $q))
        (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0)))))
      (f64.store offset=8 (local.get $q) (f64.add (f64.load offset=8 (local.get $q))
        (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))))
      (f64.store offset=16 (local.get $q) (f64.add (f64.load offset=16 (local.get $q))
        (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2)))))
      (f64.store offset=24 (local.get $q) (f64.add (f64.load offset=24 (local.get $q))
        (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3)))))
      (local.set $i0 (local.get $blockEnd))
      (br $blocks)))
    ;; the last 0–3 rows, entry by entry
    (local.set $i (local.get $i0))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_s (local.get $i) (local.get $to)))
      (local.set $row (call $rowBase (local.get $a) (local.get $n) (local.get $i)))
      (local.set $vi (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $acc (f64.mul (f64.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3)))) (local.get $vi)))
      (local.set $j (i32.add (local.get $i) (i32.const 1)))
      (block $tjDone (loop $tj
        (br_if $tjDone (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $q (i32.shl (local.get $j) (i32.const 3)))
        (local.set $w (f64.load (i32.add (local.get $row) (local.get $q))))
        (local.set $acc (f64.add (local.get $acc) (f64.mul (local.get $w) (f64.load (i32.add (local.get $v) (local.get $q))))))
        (f64.store (i32.add (local.get $out) (local.get $q))
          (f64.add (f64.load (i32.add (local.get $out) (local.get $q))) (f64.mul (local.get $w) (local.get $vi))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $tj)))
      (local.set $q (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3))))
      (f64.store (local.get $q) (f64.add (f64.load (local.get $q)) (local.get $acc)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail))))

;; out += (rows [from, to) of A)·V for the packed order-n upper triangle at a and a block V of
  ;; k columns (k even; V and out row-major, rows 8k bytes apart), from a multiple of 4, to a multiple
  ;; of 4 or n. Each stored value A(i, j > i) serves out row i (times V row j) and out row j (times V
  ;; row i). Panels of 32 rows: first the entries inside the panel (j < its end) one by one, then the
  ;; columns right of it in chunks of 64, each chunk's V and out rows staying in L1 while the panel's
  ;; blocks of four rows pass over it (four stored values splatted, two columns per f64x2). Threads
  ;; give each their own range and out, summed afterwards.
  (func (export "packedBlockRows") (param $a i32) (param $n i32) (param $v i32) (param $k i32) (param $out i32) (param $from i32) (param $to i32)
    (local $ks i32) (local $p0 i32) (local $p1 i32) (local $i i32) (local $j i32) (local $j0 i32) (local $j1 i32) (local $g i32)
    (local $row i32) (local $vi i32) (local $oi i32) (local $vj i32) (local $oj i32) (local $c i32) (local $q i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $x v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $end i32)
    (local.set $ks (i32.shl (local.get $k) (i32.const 3)))
    (local.set $p0 (local.get $from))
    (block $panelsDone (loop $panels
      (br_if $panelsDone (i32.ge_s (local.get $p0) (local.get $to)))
      (local.set $p1 (select (i32.add (local.get $p0) (i32.const 32)) (local.get $to)
        (i32.lt_s (i32.add (local.get $p0) (i32.const 32)) (local.get $to))))
      ;; inside the panel: entries (i, i ≤ j < p1) one at a time
      (local.set $i (local.get $p0))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $p1)))
        (local.set $row (call $rowBase (local.get $a) (local.get $n) (local.get $i)))
        (local.set $vi (i32.add (local.get $v) (i32.mul (local.get $i) (local.get $ks))))
        (local.set $oi (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $ks))))
        (local.set $w (v128.load64_splat (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $c (i32.const 0))
        (block $dDone (loop $d
          (br_if $dDone (i32.ge_s (local.get $c) (local.get $ks)))
          (local.set $q (i32.add (local.get $oi) (local.get $c)))
          (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q))
            (f64x2.mul (local.get $w) (v128.load (i32.add (local.get $vi) (local.get $c))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $d)))
        (local.set $j (i32.add (local.get $i) (i32.const 1)))
        (block $ijDone (loop $ij
          (br_if $ijDone (i32.ge_s (local.get $j) (local.get $p1)))
          (local.set $w (v128.load64_splat (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3)))))
          (local.set $vj (i32.add (local.get $v) (i32.mul (local.get $j) (local.get $ks))))
          (local.set $oj (i32.add (local.get $out) (i32.mul (local.get $j) (local.get $ks))))
          (local.set $c (i32.const 0))
          (block $eDone (loop $e
            (br_if $eDone (i32.ge_s (local.get $c) (local.get $ks)))
            (local.set $q (i32.add (local.get $oi) (local.get $c)))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q))
              (f64x2.mul (local.get $w) (v128.load (i32.add (local.get $vj) (local.get $c))))))
            (local.set $q (i32.add (local.get $oj) (local.get $c)))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q))
              (f64x2.mul (local.get $w) (v128.load (i32.add (local.get $vi) (local.get $c))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $e)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $ij)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
      ;; right of the panel (only where p1 < n: then p0 and p1 are multiples of 4, so blocks are whole)
      (local.set $j0 (local.get $p1))
      (block $chunksDone (loop $chunks
        (br_if $chunksDone (i32.ge_s (local.get $j0) (local.get $n)))
        (local.set $j1 (select (i32.add (local.get $j0) (i32.const 64)) (local.get $n)
          (i32.lt_s (i32.add (local.get $j0) (i32.const 64)) (local.get $n))))
        (local.set $g (local.get $p0))
        (block $groupsDone (loop $groups
          (br_if $groupsDone (i32.gt_s (i32.add (local.get $g) (i32.const 4)) (local.get $p1)))
          (local.set $r0 (call $rowBase (local.get $a) (local.get $n) (local.get $g)))
          (local.set $r1 (call $rowBase (local.get $a) (local.get $n) (i32.add (local.get $g) (i32.const 1))))
          (local.set $r2 (call $rowBase (local.get $a) (local.get $n) (i32.add (local.get $g) (i32.const 2))))
          (local.set $r3 (call $rowBase (local.get $a) (local.get $n) (i32.add (local.get $g) (i32.const 3))))
          (local.set $vi (i32.add (local.get $v) (i32.mul (local.get $g) (local.get $ks))))
          (local.set $oi (i32.add (local.get $out) (i32.mul (local.get $g) (local.get $ks))))
          ;; each pair of columns of the chunk: rows g..g+3's sums in registers across the chunk's j
          (local.set $c (i32.const 0))
          (block $pairsDone (loop $pairs
            (br_if $pairsDone (i32.ge_s (local.get $c) (local.get $ks)))
            (local.set $q (i32.add (local.get $vi) (local.get $c)))
            (local.set $v0 (v128.load (local.get $q)))
            (local.set $v1 (v128.load (i32.add (local.get $q) (local.get $ks))))
            (local.set $v2 (v128.load (i32.add (local.get $q) (i32.shl (local.get $ks) (i32.const 1)))))
            (local.set $v3 (v128.load (i32.add (local.get $q) (i32.mul (local.get $ks) (i32.const 3)))))
            (local.set $s0 (v128.const f64x2 0 0)) (local.set $s1 (v128.const f64x2 0 0))
            (local.set $s2 (v128.const f64x2 0 0)) (local.set $s3 (v128.const f64x2 0 0))
            (local.set $vj (i32.add (i32.add (local.get $v) (i32.mul (local.get $j0) (local.get $ks))) (local.get $c)))
            (local.set $oj (i32.add (i32.add (local.get $out) (i32.mul (local.get $j0) (local.get $ks))) (local.get $c)))
            (local.set $q (i32.shl (local.get $j0) (i32.const 3)))
            (local.set $end (i32.shl (local.get $j1) (i32.const 3)))
            (block $colsDone (loop $cols
              (br_if $colsDone (i32.ge_s (local.get $q) (local.get $end)))
              (local.set $a0 (v128.load64_splat (i32.add (local.get $r0) (local.get $q))))
              (local.set $a1 (v128.load64_splat (i32.add (local.get $r1) (local.get $q))))
              (local.set $a2 (v128.load64_splat (i32.add (local.get $r2) (local.get $q))))
              (local.set $a3 (v128.load64_splat (i32.add (local.get $r3) (local.get $q))))
              (local.set $x (v128.load (local.get $vj)))
              (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $a0) (local.get $x))))
              (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $a1) (local.get $x))))
              (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $a2) (local.get $x))))
              (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $a3) (local.get $x))))
              (v128.store (local.get $oj) (f64x2.add (v128.load (local.get $oj))
                (f64x2.add
                  (f64x2.add (f64x2.mul (local.get $a0) (local.get $v0)) (f64x2.mul (local.get $a1) (local.get $v1)))
                  (f64x2.add (f64x2.mul (local.get $a2) (local.get $v2)) (f64x2.mul (local.get $a3) (local.get $v3))))))
              (local.set $vj (i32.add (local.get $vj) (local.get $ks)))
              (local.set $oj (i32.add (local.get $oj) (local.get $ks)))
              (local.set $q (i32.add (local.get $q) (i32.const 8)))
              (br $cols)))
            (local.set $q (i32.add (local.get $oi) (local.get $c)))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (local.get $s0)))
            (local.set $q (i32.add (local.get $q) (local.get $ks)))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (local.get $s1)))
            (local.set $q (i32.add (local.get $q) (local.get $ks)))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (local.get $s2)))
            (local.set $q (i32.add (local.get $q) (local.get $ks)))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (local.get $s3)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $pairs)))
          (local.set $g (i32.add (local.get $g) (i32.const 4)))
          (br $groups)))
        (local.set $j0 (local.get $j1))
        (br $chunks)))
      (local.set $p0 (local.get $p1))
      (br $panels))))

;; Rows [from, to) of a block of cross dot products xᵢ·yⱼ (row i at a + 8·i·ld, m of them) turned
  ;; Gaussian in place: gaussianFromProducts with rowNorms[i] = ‖xᵢ‖² and norms[j] = ‖yⱼ‖², row i on
  ;; columns j < min(m, diagonal + i + 1) (diagonal ≥ m: all m; a block of K(x, x)'s rows from row
  ;; `diagonal` on: its lower triangle, the rest left as it is). A thread's share of a block of kernel
  ;; rows (Nyström's transform, a Cholesky's lower triangle).
  (func (export "gaussianCrossRows") (param $a i32) (param $ld i32) (param $rowNorms i32) (param $norms i32) (param $m i32) (param $diagonal i32) (param $from i32) (param $to i32) (param $gamma f64)
    (local $i i32) (local $end i32)
    (local.set $i (local.get $from))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $to)))
      (local.set $end (i32.add (i32.add (local.get $diagonal) (local.get $i)) (i32.const 1)))
      (call $gaussianFromProducts (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $ld)) (i32.const 3)))
        (local.get $norms) (f64.load (i32.add (local.get $rowNorms) (i32.shl (local.get $i) (i32.const 3))))
        (i32.const 0) (select (local.get $end) (local.get $m) (i32.lt_s (local.get $end) (local.get $m))) (local.get $gamma))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

    ;; Rows [from, to) of a packed Gram matrix turned Gaussian in place: the diagonal set to 1 and
  ;; gaussianFromProducts on the rest of each row (norms: the squared norms of the points).
  (func (export "gaussianRows") (param $a i32) (param $norms i32) (param $n i32) (param $from i32) (param $to i32) (param $gamma f64)
    (local $i i32) (local $row i32)
    (local.set $i (local.get $from))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $to)))
      (local.set $row (call $rowBase (local.get $a) (local.get $n) (local.get $i)))
      (f64.store (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3))) (f64.const 1))
      (call $gaussianFromProducts (local.get $row) (local.get $norms)
        (f64.load (i32.add (local.get $norms) (i32.shl (local.get $i) (i32.const 3))))
        (i32.add (local.get $i) (i32.const 1)) (local.get $n) (local.get $gamma))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
)
