;; Dense float64 kernels in WebAssembly SIMD (f64x2), shared by every package's arena: a 4×4
;; register-blocked row-block product (the GEMM micro-kernel behind matmulMatrix) and the row-block
;; matrix–vector products. Every pointer is a byte address in the imported memory. Each output is
;; summed over k in order from zero, as tensor-core's JavaScript loops do. The products accumulate
;; with f64x2.relaxed_madd: @kvkit/wat builds this text twice, the plain module computing each as
;; acc + x·y with two roundings (the same float64 values as the JavaScript loops), and a fused one
;; for engines with relaxed SIMD, which round once where the CPU has FMA (2× the multiply-adds per
;; cycle of the 128-bit lanes; simd-arena.ts picks it).
(module
  (import "env" "memory" (memory 1))
  ;; The row-block inner kernels by element type (rowBlocksOf picks one: 0 float64, 1 float32).
  (type $rowBlockKernel (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (table 2 funcref)
  (elem (i32.const 0) $rowBlockProductsFrom $rowBlockProductsFromF32)

  ;; acc + x·y by this module's multiply-add, in lane 0: the plain rounding unless it is fused.
  (func (export "multiplyAddProbe") (param $x f64) (param $y f64) (param $acc f64) (result f64)
    (local $vx v128) (local $vy v128) (local $va v128)
    (local.set $vx (f64x2.splat (local.get $x)))
    (local.set $vy (f64x2.splat (local.get $y)))
    (local.set $va (f64x2.splat (local.get $acc)))
    (f64x2.extract_lane 0 (f64x2.relaxed_madd (local.get $vx) (local.get $vy) (local.get $va))))

  ;; out[o_r + 8j] = x_r · y_j for the four rows x_r at xa + 8·d·r and j0 ≤ j < j1, with y stored
  ;; transposed (yt + 8(k·ld + j) holds y_j[k]), so one load gives y_j[k], y_{j+1}[k] and each x_r[k] is
  ;; splatted: four columns × four rows of products per k from six loads.
  (func (export "rowBlockProducts")
    (param $xa i32) (param $d i32) (param $yt i32) (param $ld i32) (param $j0 i32) (param $j1 i32)
    (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (call $rowBlockProductsFrom (local.get $xa) (i32.shl (local.get $d) (i32.const 3)) (i32.const 8) (local.get $d)
      (local.get $yt) (local.get $ld) (local.get $j0) (local.get $j1)
      (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3) (i32.const 0)))

  ;; Row blocks b0 ≤ b < b1 of C (rows 4b..4b+3; row r of C at c + r·cs bytes) += or = rows of
  ;; op(A) times a panel of B: x_i[k] at xa + i·xs + k·xk bytes (A's rows or, transposed, its
  ;; columns), B's panel (d rows, ld wide) at yt. $triangle picks the columns of block b: 0 all
  ;; (0..ld), 1 from column firstRow + 4b on (a symmetric product's upper triangle), 2 up to column
  ;; firstRow + 4b + 4 (a lower triangle, its diagonal blocks whole), 3 a packed upper triangle (see
  ;; $rowBlocksOf). The kernel of matmulMatrix's
  ;; panels, so that worker threads each take a range of blocks of the same panel in one call.
  (func $rowBlocksProducts (export "rowBlocksProducts")
    (param $xa i32) (param $xs i32) (param $xk i32) (param $d i32) (param $yt i32) (param $ld i32)
    (param $c i32) (param $cs i32) (param $b0 i32) (param $b1 i32) (param $firstRow i32) (param $triangle i32) (param $add i32)
    (call $rowBlocksOf (local.get $xa) (local.get $xs) (local.get $xk) (local.get $d) (local.get $yt) (local.get $ld)
      (local.get $c) (local.get $cs) (local.get $b0) (local.get $b1) (local.get $firstRow) (local.get $triangle) (local.get $add) (i32.const 0)))

  ;; rowBlocksProducts on float32 operands and outputs (x, B's panel, C all f32; strides in bytes,
  ;; B's panel ld floats wide): four rows by eight columns per step of f32x4 multiply-adds, twice the
  ;; multiply-adds per instruction of the f64x2 kernel. For mixed-precision work (the float32
  ;; Cholesky factor that positiveDefiniteSolve refines in float64), not for float64 results.
  (func (export "rowBlocksProductsF32")
    (param $xa i32) (param $xs i32) (param $xk i32) (param $d i32) (param $yt i32) (param $ld i32)
    (param $c i32) (param $cs i32) (param $b0 i32) (param $b1 i32) (param $firstRow i32) (param $triangle i32) (param $add i32)
    (call $rowBlocksOf (local.get $xa) (local.get $xs) (local.get $xk) (local.get $d) (local.get $yt) (local.get $ld)
      (local.get $c) (local.get $cs) (local.get $b0) (local.get $b1) (local.get $firstRow) (local.get $triangle) (local.get $add) (i32.const 1)))

  ;; The row blocks of either kernel: float64 ($f32 = 0) or float32 elements. $triangle 3 (float64
  ;; only) writes a packed upper triangle of order ld: row i's entry j ≥ i at c + 8·(i·ld − i(i+1)/2 + j)
  ;; (global row i = firstRow + 4b + r), block b from column firstRow + 4b + 3 on (its rows' entries
  ;; left of that, the block's corner, are the caller's), $cs unused.
  (func $rowBlocksOf
    (param $xa i32) (param $xs i32) (param $xk i32) (param $d i32) (param $yt i32) (param $ld i32)
    (param $c i32) (param $cs i32) (param $b0 i32) (param $b1 i32) (param $firstRow i32) (param $triangle i32) (param $add i32) (param $f32 i32)
    (local $b i32) (local $row i32) (local $x i32) (local $end i32) (local $j0 i32) (local $i i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local.set $b (local.get $b0))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $b) (local.get $b1)))
      (local.set $row (i32.shl (local.get $b) (i32.const 2)))
      (local.set $x (i32.add (local.get $xa) (i32.mul (local.get $row) (local.get $xs))))
      (local.set $end (i32.add (i32.add (local.get $firstRow) (local.get $row)) (i32.const 4)))
      (local.set $j0 (select (i32.add (local.get $firstRow) (local.get $row)) (i32.const 0) (i32.eq (local.get $triangle) (i32.const 1))))
      (local.set $o0 (i32.add (local.get $c) (i32.mul (local.get $row) (local.get $cs))))
      (local.set $o1 (i32.add (local.get $o0) (local.get $cs)))
      (local.set $o2 (i32.add (local.get $o1) (local.get $cs)))
      (local.set $o3 (i32.add (local.get $o2) (local.get $cs)))
      (if (i32.eq (local.get $triangle) (i32.const 3))
        (then
          (local.set $i (i32.add (local.get $firstRow) (local.get $row)))
          (local.set $j0 (i32.sub (local.get $end) (i32.const 1)))
          ;; base(i) = c + 8·(i·ld − i(i+1)/2); base(i + 1) − base(i) = 8·(ld − i − 1)
          (local.set $o0 (i32.add (local.get $c) (i32.shl
            (i32.sub (i32.mul (local.get $i) (local.get $ld)) (i32.shr_u (i32.mul (local.get $i) (i32.add (local.get $i) (i32.const 1))) (i32.const 1)))
            (i32.const 3))))
          (local.set $o1 (i32.add (local.get $o0) (i32.shl (i32.sub (i32.sub (local.get $ld) (local.get $i)) (i32.const 1)) (i32.const 3))))
          (local.set $o2 (i32.add (local.get $o1) (i32.shl (i32.sub (i32.sub (local.get $ld) (local.get $i)) (i32.const 2)) (i32.const 3))))
          (local.set $o3 (i32.add (local.get $o2) (i32.shl (i32.sub (i32.sub (local.get $ld) (local.get $i)) (i32.const 3)) (i32.const 3))))))
      (call_indirect (type $rowBlockKernel) (local.get $x) (local.get $xs) (local.get $xk) (local.get $d) (local.get $yt) (local.get $ld)
        (local.get $j0)
        (select (local.get $end) (local.get $ld)
          (i32.and (i32.eq (local.get $triangle) (i32.const 2)) (i32.lt_s (local.get $end) (local.get $ld))))
        (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3)
        (local.get $add) (local.get $f32))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $next))))

;; rowBlocksProducts over a pass of consecutive panels of B, `depth` rows each (the last may be
  ;; shorter): the blocks b0 ≤ b < b1 take the first panel, then the next (its sums going on from the
  ;; values the panel before left), so each panel stays in cache while they pass over it, and a
  ;; worker thread takes a whole pass in one hand-off. The same sums, in the same order, as one
  ;; rowBlocksProducts call per panel.
  (func (export "rowBlocksPanels")
    (param $xa i32) (param $xs i32) (param $xk i32) (param $d i32) (param $yt i32) (param $ld i32)
    (param $c i32) (param $cs i32) (param $b0 i32) (param $b1 i32) (param $firstRow i32) (param $triangle i32) (param $add i32)
    (param $depth i32)
    (local $k0 i32)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $k0) (local.get $d)))
      (call $rowBlocksProducts
        (i32.add (local.get $xa) (i32.mul (local.get $k0) (local.get $xk))) (local.get $xs) (local.get $xk)
        (select (local.get $depth) (i32.sub (local.get $d) (local.get $k0))
          (i32.lt_s (local.get $depth) (i32.sub (local.get $d) (local.get $k0))))
        (i32.add (local.get $yt) (i32.shl (i32.mul (local.get $k0) (local.get $ld)) (i32.const 3))) (local.get $ld)
        (local.get $c) (local.get $cs) (local.get $b0) (local.get $b1) (local.get $firstRow) (local.get $triangle)
        (i32.or (local.get $add) (i32.gt_s (local.get $k0) (i32.const 0))))
      (local.set $k0 (i32.add (local.get $k0) (local.get $depth)))
      (br $next))))

    ;; The row-block product, its sums starting at zero or (with $add) at the outputs' values; x_r[k]
  ;; at xa + r·xs + k·xk bytes (rows of a row-major x: xs = 8d, xk = 8; columns: xs = 8, xk = 8·ld).
  (func $rowBlockProductsFrom
    (param $xa i32) (param $xs i32) (param $xk i32) (param $d i32) (param $yt i32) (param $ld i32) (param $j0 i32) (param $j1 i32)
    (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32) (param $add i32)
    (local $j i32) (local $k i32) (local $p i32) (local $q i32) (local $xr i32) (local $step i32)
    (local $y01 v128) (local $y23 v128) (local $x v128)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $c0 v128) (local $c1 v128) (local $e0 v128) (local $e1 v128)
    (local.set $step (i32.shl (local.get $ld) (i32.const 3)))
    (local.set $j (local.get $j0))
    ;; four columns at a time
    (block $done4 (loop $cols4
      (br_if $done4 (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $j1)))
      (local.set $q (i32.shl (local.get $j) (i32.const 3)))
      (if (local.get $add)
        (then
          (local.set $a0 (v128.load (i32.add (local.get $o0) (local.get $q))))
          (local.set $a1 (v128.load offset=16 (i32.add (local.get $o0) (local.get $q))))
          (local.set $b0 (v128.load (i32.add (local.get $o1) (local.get $q))))
          (local.set $b1 (v128.load offset=16 (i32.add (local.get $o1) (local.get $q))))
          (local.set $c0 (v128.load (i32.add (local.get $o2) (local.get $q))))
          (local.set $c1 (v128.load offset=16 (i32.add (local.get $o2) (local.get $q))))
          (local.set $e0 (v128.load (i32.add (local.get $o3) (local.get $q))))
          (local.set $e1 (v128.load offset=16 (i32.add (local.get $o3) (local.get $q)))))
        (else
          (local.set $a0 (v128.const f64x2 0 0)) (local.set $a1 (v128.const f64x2 0 0))
          (local.set $b0 (v128.const f64x2 0 0)) (local.set $b1 (v128.const f64x2 0 0))
          (local.set $c0 (v128.const f64x2 0 0)) (local.set $c1 (v128.const f64x2 0 0))
          (local.set $e0 (v128.const f64x2 0 0)) (local.set $e1 (v128.const f64x2 0 0))))
      (local.set $p (i32.add (local.get $yt) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $xr (local.get $xa))
      (local.set $k (i32.const 0))
      (block $kdone (loop $ks
        (br_if $kdone (i32.ge_s (local.get $k) (local.get $d)))
        (local.set $y01 (v128.load (local.get $p)))
        (local.set $y23 (v128.load offset=16 (local.get $p)))
        (local.set $x (v128.load64_splat (local.get $xr)))
        (local.set $a0 (f64x2.relaxed_madd (local.get $x) (local.get $y01) (local.get $a0)))
        (local.set $a1 (f64x2.relaxed_madd (local.get $x) (local.get $y23) (local.get $a1)))
        (local.set $q (i32.add (local.get $xr) (local.get $xs)))
        (local.set $x (v128.load64_splat (local.get $q)))
        (local.set $b0 (f64x2.relaxed_madd (local.get $x) (local.get $y01) (local.get $b0)))
        (local.set $b1 (f64x2.relaxed_madd (local.get $x) (local.get $y23) (local.get $b1)))
        (local.set $q (i32.add (local.get $q) (local.get $xs)))
        (local.set $x (v128.load64_splat (local.get $q)))
        (local.set $c0 (f64x2.relaxed_madd (local.get $x) (local.get $y01) (local.get $c0)))
        (local.set $c1 (f64x2.relaxed_madd (local.get $x) (local.get $y23) (local.get $c1)))
        (local.set $q (i32.add (local.get $q) (local.get $xs)))
        (local.set $x (v128.load64_splat (local.get $q)))
        (local.set $e0 (f64x2.relaxed_madd (local.get $x) (local.get $y01) (local.get $e0)))
        (local.set $e1 (f64x2.relaxed_madd (local.get $x) (local.get $y23) (local.get $e1)))
        (local.set $p (i32.add (local.get $p) (local.get $step)))
        (local.set $xr (i32.add (local.get $xr) (local.get $xk)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ks)))
      (local.set $q (i32.shl (local.get $j) (i32.const 3)))
      (v128.store (i32.add (local.get $o0) (local.get $q)) (local.get $a0))
      (v128.store offset=16 (i32.add (local.get $o0) (local.get $q)) (local.get $a1))
      (v128.store (i32.add (local.get $o1) (local.get $q)) (local.get $b0))
      (v128.store offset=16 (i32.add (local.get $o1) (local.get $q)) (local.get $b1))
      (v128.store (i32.add (local.get $o2) (local.get $q)) (local.get $c0))
      (v128.store offset=16 (i32.add (local.get $o2) (local.get $q)) (local.get $c1))
      (v128.store (i32.add (local.get $o3) (local.get $q)) (local.get $e0))
      (v128.store offset=16 (i32.add (local.get $o3) (local.get $q)) (local.get $e1))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $cols4)))
    ;; the last 0–3 columns one at a time, rows in pairs: the same multiply-adds as the blocks above
    ;; (so a symmetric product stays symmetric with fused ones)
    (block $done1 (loop $cols1
      (br_if $done1 (i32.ge_s (local.get $j) (local.get $j1)))
      (local.set $q (i32.shl (local.get $j) (i32.const 3)))
      (if (local.get $add)
        (then
          (local.set $a0 (f64x2.replace_lane 1 (v128.load64_splat (i32.add (local.get $o0) (local.get $q))) (f64.load (i32.add (local.get $o1) (local.get $q)))))
          (local.set $a1 (f64x2.replace_lane 1 (v128.load64_splat (i32.add (local.get $o2) (local.get $q))) (f64.load (i32.add (local.get $o3) (local.get $q))))))
        (else
          (local.set $a0 (v128.const f64x2 0 0)) (local.set $a1 (v128.const f64x2 0 0))))
      (local.set $p (i32.add (local.get $yt) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $xr (local.get $xa))
      (local.set $k (i32.const 0))
      (block $kdone1 (loop $ks1
        (br_if $kdone1 (i32.ge_s (local.get $k) (local.get $d)))
        (local.set $y01 (v128.load64_splat (local.get $p)))
        (local.set $q (i32.add (local.get $xr) (local.get $xs)))
        (local.set $x (f64x2.replace_lane 1 (v128.load64_splat (local.get $xr)) (f64.load (local.get $q))))
        (local.set $a0 (f64x2.relaxed_madd (local.get $x) (local.get $y01) (local.get $a0)))
        (local.set $q (i32.add (local.get $q) (local.get $xs)))
        (local.set $x (f64x2.replace_lane 1 (v128.load64_splat (local.get $q)) (f64.load (i32.add (local.get $q) (local.get $xs)))))
        (local.set $a1 (f64x2.relaxed_madd (local.get $x) (local.get $y01) (local.get $a1)))
        (local.set $p (i32.add (local.get $p) (local.get $step)))
        (local.set $xr (i32.add (local.get $xr) (local.get $xk)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ks1)))
      (local.set $q (i32.shl (local.get $j) (i32.const 3)))
      (f64.store (i32.add (local.get $o0) (local.get $q)) (f64x2.extract_lane 0 (local.get $a0)))
      (f64.store (i32.add (local.get $o1) (local.get $q)) (f64x2.extract_lane 1 (local.get $a0)))
      (f64.store (i32.add (local.get $o2) (local.get $q)) (f64x2.extract_lane 0 (local.get $a1)))
      (f64.store (i32.add (local.get $o3) (local.get $q)) (f64x2.extract_lane 1 (local.get $a1)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $cols1))))

  ;; rowBlockProductsFrom on float32: out[o_r + 4j] (+)= Σ_k x_r[k]·y_j[k] for the four rows and
  ;; j0 ≤ j < j1; eight columns a step (two f32x4 per row), then four, then one at a time.
  (func $rowBlockProductsFromF32
    (param $xa i32) (param $xs i32) (param $xk i32) (param $d i32) (param $yt i32) (param $ld i32) (param $j0 i32) (param $j1 i32)
    (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32) (param $add i32)
    (local $j i32) (local $k i32) (local $p i32) (local $q i32) (local $xr i32) (local $step i32)
    (local $ylo v128) (local $yhi v128) (local $x v128)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $c0 v128) (local $c1 v128) (local $e0 v128) (local $e1 v128)
    (local.set $step (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $j (local.get $j0))
    (block $done8 (loop $cols8
      (br_if $done8 (i32.gt_s (i32.add (local.get $j) (i32.const 8)) (local.get $j1)))
      (local.set $q (i32.shl (local.get $j) (i32.const 2)))
      (if (local.get $add)
        (then
          (local.set $a0 (v128.load (i32.add (local.get $o0) (local.get $q))))
          (local.set $a1 (v128.load offset=16 (i32.add (local.get $o0) (local.get $q))))
          (local.set $b0 (v128.load (i32.add (local.get $o1) (local.get $q))))
          (local.set $b1 (v128.load offset=16 (i32.add (local.get $o1) (local.get $q))))
          (local.set $c0 (v128.load (i32.add (local.get $o2) (local.get $q))))
          (local.set $c1 (v128.load offset=16 (i32.add (local.get $o2) (local.get $q))))
          (local.set $e0 (v128.load (i32.add (local.get $o3) (local.get $q))))
          (local.set $e1 (v128.load offset=16 (i32.add (local.get $o3) (local.get $q)))))
        (else
          (local.set $a0 (v128.const f32x4 0 0 0 0)) (local.set $a1 (v128.const f32x4 0 0 0 0))
          (local.set $b0 (v128.const f32x4 0 0 0 0)) (local.set $b1 (v128.const f32x4 0 0 0 0))
          (local.set $c0 (v128.const f32x4 0 0 0 0)) (local.set $c1 (v128.const f32x4 0 0 0 0))
          (local.set $e0 (v128.const f32x4 0 0 0 0)) (local.set $e1 (v128.const f32x4 0 0 0 0))))
      (local.set $p (i32.add (local.get $yt) (local.get $q)))
      (local.set $xr (local.get $xa))
      (local.set $k (i32.const 0))
      (block $kdone (loop $ks
        (br_if $kdone (i32.ge_s (local.get $k) (local.get $d)))
        (local.set $ylo (v128.load (local.get $p)))
        (local.set $yhi (v128.load offset=16 (local.get $p)))
        (local.set $x (v128.load32_splat (local.get $xr)))
        (local.set $a0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $a0)))
        (local.set $a1 (f32x4.relaxed_madd (local.get $x) (local.get $yhi) (local.get $a1)))
        (local.set $q (i32.add (local.get $xr) (local.get $xs)))
        (local.set $x (v128.load32_splat (local.get $q)))
        (local.set $b0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $b0)))
        (local.set $b1 (f32x4.relaxed_madd (local.get $x) (local.get $yhi) (local.get $b1)))
        (local.set $q (i32.add (local.get $q) (local.get $xs)))
        (local.set $x (v128.load32_splat (local.get $q)))
        (local.set $c0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $c0)))
        (local.set $c1 (f32x4.relaxed_madd (local.get $x) (local.get $yhi) (local.get $c1)))
        (local.set $q (i32.add (local.get $q) (local.get $xs)))
        (local.set $x (v128.load32_splat (local.get $q)))
        (local.set $e0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $e0)))
        (local.set $e1 (f32x4.relaxed_madd (local.get $x) (local.get $yhi) (local.get $e1)))
        (local.set $p (i32.add (local.get $p) (local.get $step)))
        (local.set $xr (i32.add (local.get $xr) (local.get $xk)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ks)))
      (local.set $q (i32.shl (local.get $j) (i32.const 2)))
      (v128.store (i32.add (local.get $o0) (local.get $q)) (local.get $a0))
      (v128.store offset=16 (i32.add (local.get $o0) (local.get $q)) (local.get $a1))
      (v128.store (i32.add (local.get $o1) (local.get $q)) (local.get $b0))
      (v128.store offset=16 (i32.add (local.get $o1) (local.get $q)) (local.get $b1))
      (v128.store (i32.add (local.get $o2) (local.get $q)) (local.get $c0))
      (v128.store offset=16 (i32.add (local.get $o2) (local.get $q)) (local.get $c1))
      (v128.store (i32.add (local.get $o3) (local.get $q)) (local.get $e0))
      (v128.store offset=16 (i32.add (local.get $o3) (local.get $q)) (local.get $e1))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br $cols8)))
    ;; four columns, then the last 0–3 one at a time (lane 0 of the same multiply-adds)
    (block $done1 (loop $cols1
      (br_if $done1 (i32.ge_s (local.get $j) (local.get $j1)))
      (local.set $q (i32.shl (local.get $j) (i32.const 2)))
      (if (i32.le_s (i32.add (local.get $j) (i32.const 4)) (local.get $j1))
        (then
          (if (local.get $add)
            (then
              (local.set $a0 (v128.load (i32.add (local.get $o0) (local.get $q))))
              (local.set $b0 (v128.load (i32.add (local.get $o1) (local.get $q))))
              (local.set $c0 (v128.load (i32.add (local.get $o2) (local.get $q))))
              (local.set $e0 (v128.load (i32.add (local.get $o3) (local.get $q)))))
            (else
              (local.set $a0 (v128.const f32x4 0 0 0 0)) (local.set $b0 (v128.const f32x4 0 0 0 0))
              (local.set $c0 (v128.const f32x4 0 0 0 0)) (local.set $e0 (v128.const f32x4 0 0 0 0)))))
        (else
          (if (local.get $add)
            (then
              (local.set $a0 (v128.load32_zero (i32.add (local.get $o0) (local.get $q))))
              (local.set $b0 (v128.load32_zero (i32.add (local.get $o1) (local.get $q))))
              (local.set $c0 (v128.load32_zero (i32.add (local.get $o2) (local.get $q))))
              (local.set $e0 (v128.load32_zero (i32.add (local.get $o3) (local.get $q)))))
            (else
              (local.set $a0 (v128.const f32x4 0 0 0 0)) (local.set $b0 (v128.const f32x4 0 0 0 0))
              (local.set $c0 (v128.const f32x4 0 0 0 0)) (local.set $e0 (v128.const f32x4 0 0 0 0))))))
      (local.set $p (i32.add (local.get $yt) (local.get $q)))
      (local.set $xr (local.get $xa))
      (local.set $k (i32.const 0))
      (block $kdone1 (loop $ks1
        (br_if $kdone1 (i32.ge_s (local.get $k) (local.get $d)))
        ;; a single column loads only its own float (the panel may end there)
        (if (i32.le_s (i32.add (local.get $j) (i32.const 4)) (local.get $j1))
          (then (local.set $ylo (v128.load (local.get $p))))
          (else (local.set $ylo (v128.load32_zero (local.get $p)))))
        (local.set $x (v128.load32_splat (local.get $xr)))
        (local.set $a0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $a0)))
        (local.set $q (i32.add (local.get $xr) (local.get $xs)))
        (local.set $x (v128.load32_splat (local.get $q)))
        (local.set $b0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $b0)))
        (local.set $q (i32.add (local.get $q) (local.get $xs)))
        (local.set $x (v128.load32_splat (local.get $q)))
        (local.set $c0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $c0)))
        (local.set $q (i32.add (local.get $q) (local.get $xs)))
        (local.set $x (v128.load32_splat (local.get $q)))
        (local.set $e0 (f32x4.relaxed_madd (local.get $x) (local.get $ylo) (local.get $e0)))
        (local.set $p (i32.add (local.get $p) (local.get $step)))
        (local.set $xr (i32.add (local.get $xr) (local.get $xk)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ks1)))
      (local.set $q (i32.shl (local.get $j) (i32.const 2)))
      (if (i32.le_s (i32.add (local.get $j) (i32.const 4)) (local.get $j1))
        (then
          (v128.store (i32.add (local.get $o0) (local.get $q)) (local.get $a0))
          (v128.store (i32.add (local.get $o1) (local.get $q)) (local.get $b0))
          (v128.store (i32.add (local.get $o2) (local.get $q)) (local.get $c0))
          (v128.store (i32.add (local.get $o3) (local.get $q)) (local.get $e0))
          (local.set $j (i32.add (local.get $j) (i32.const 4))))
        (else
          (f32.store (i32.add (local.get $o0) (local.get $q)) (f32x4.extract_lane 0 (local.get $a0)))
          (f32.store (i32.add (local.get $o1) (local.get $q)) (f32x4.extract_lane 0 (local.get $b0)))
          (f32.store (i32.add (local.get $o2) (local.get $q)) (f32x4.extract_lane 0 (local.get $c0)))
          (f32.store (i32.add (local.get $o3) (local.get $q)) (f32x4.extract_lane 0 (local.get $e0)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))))
      (br $cols1))))

  ;; Four consecutive rows a_r = a + 8·r·m of a row-major matrix with m columns:
  ;; out[r] += a_r · b (b has m entries), pairs of columns per f64x2.
  (func $rowBlockDots (export "rowBlockDots") (param $a i32) (param $m i32) (param $b i32) (param $out i32)
    (local $j i32) (local $q i32) (local $row i32) (local $bj v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $row (i32.shl (local.get $m) (i32.const 3)))
    (block $pairsDone (loop $pairs
      (br_if $pairsDone (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $m)))
      (local.set $q (i32.shl (local.get $j) (i32.const 3)))
      (local.set $bj (v128.load (i32.add (local.get $b) (local.get $q))))
      (local.set $q (i32.add (local.get $a) (local.get $q)))
      (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (v128.load (local.get $q)) (local.get $bj))))
      (local.set $q (i32.add (local.get $q) (local.get $row)))
      (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (v128.load (local.get $q)) (local.get $bj))))
      (local.set $q (i32.add (local.get $q) (local.get $row)))
      (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (v128.load (local.get $q)) (local.get $bj))))
      (local.set $q (i32.add (local.get $q) (local.get $row)))
      (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (v128.load (local.get $q)) (local.get $bj))))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $pairs)))
    (if (i32.lt_s (local.get $j) (local.get $m))
      (then
        (local.set $q (i32.shl (local.get $j) (i32.const 3)))
        (local.set $bj (f64x2.replace_lane 1 (v128.load64_splat (i32.add (local.get $b) (local.get $q))) (f64.const 0)))
        (local.set $q (i32.add (local.get $a) (local.get $q)))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (v128.load64_splat (local.get $q)) (local.get $bj))))
        (local.set $q (i32.add (local.get $q) (local.get $row)))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (v128.load64_splat (local.get $q)) (local.get $bj))))
        (local.set $q (i32.add (local.get $q) (local.get $row)))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (v128.load64_splat (local.get $q)) (local.get $bj))))
        (local.set $q (i32.add (local.get $q) (local.get $row)))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (v128.load64_splat (local.get $q)) (local.get $bj))))))
    (f64.store (local.get $out) (f64.add (f64.load (local.get $out))
      (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0)))))
    (f64.store offset=8 (local.get $out) (f64.add (f64.load offset=8 (local.get $out))
      (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))))
    (f64.store offset=16 (local.get $out) (f64.add (f64.load offset=16 (local.get $out))
      (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2)))))
    (f64.store offset=24 (local.get $out) (f64.add (f64.load offset=24 (local.get $out))
      (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3))))))

  ;; The same four rows transposed: out[j] += Σ_r a_r[j]·c_r for j < m (out has m entries).
  (func $rowBlockTransposedAxpy (export "rowBlockTransposedAxpy") (param $a i32) (param $m i32) (param $c0 f64) (param $c1 f64) (param $c2 f64) (param $c3 f64) (param $out i32)
    (local $j i32) (local $q i32) (local $o i32) (local $row i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local.set $row (i32.shl (local.get $m) (i32.const 3)))
    (local.set $x0 (f64x2.splat (local.get $c0))) (local.set $x1 (f64x2.splat (local.get $c1)))
    (local.set $x2 (f64x2.splat (local.get $c2))) (local.set $x3 (f64x2.splat (local.get $c3)))
    (block $pairsDone (loop $pairs
      (br_if $pairsDone (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $m)))
      (local.set $q (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $o (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 3))))
      (v128.store (local.get $o)
        (f64x2.add (v128.load (local.get $o))
          (f64x2.add
            (f64x2.add (f64x2.mul (v128.load (local.get $q)) (local.get $x0))
                       (f64x2.mul (v128.load (i32.add (local.get $q) (local.get $row))) (local.get $x1)))
            (f64x2.add (f64x2.mul (v128.load (i32.add (local.get $q) (i32.shl (local.get $row) (i32.const 1)))) (local.get $x2))
                       (f64x2.mul (v128.load (i32.add (local.get $q) (i32.mul (local.get $row) (i32.const 3)))) (local.get $x3))))))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $pairs)))
    (if (i32.lt_s (local.get $j) (local.get $m))
      (then
        (local.set $q (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 3))))
        (f64.store (local.get $o)
          (f64.add (f64.load (local.get $o))
            (f64.add
              (f64.add (f64.mul (f64.load (local.get $q)) (local.get $c0))
                       (f64.mul (f64.load (i32.add (local.get $q) (local.get $row))) (local.get $c1)))
              (f64.add (f64.mul (f64.load (i32.add (local.get $q) (i32.shl (local.get $row) (i32.const 1)))) (local.get $c2))
                       (f64.mul (f64.load (i32.add (local.get $q) (i32.mul (local.get $row) (i32.const 3)))) (local.get $c3)))))))))

  ;; The normal-equations product over 4·blocks rows of a row-major matrix A (m columns), one pass:
  ;; each block of four rows gives rows[4k + r] = a_r · b and then out[j] += Σ_r a_r[j]·rows[4k + r]
  ;; while those rows are still in cache, so out += Aᵀ(A·b) reads A once instead of twice. Same
  ;; values and order as rowBlockDots over every block followed by rowBlockTransposedAxpy.
  (func (export "rowBlockNormalProduct") (param $a i32) (param $blocks i32) (param $m i32) (param $b i32) (param $rows i32) (param $out i32)
    (local $k i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $m) (i32.const 5)))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $k) (local.get $blocks)))
      (v128.store (local.get $rows) (v128.const i64x2 0 0))
      (v128.store offset=16 (local.get $rows) (v128.const i64x2 0 0))
      (call $rowBlockDots (local.get $a) (local.get $m) (local.get $b) (local.get $rows))
      (call $rowBlockTransposedAxpy (local.get $a) (local.get $m)
        (f64.load (local.get $rows)) (f64.load offset=8 (local.get $rows))
        (f64.load offset=16 (local.get $rows)) (f64.load offset=24 (local.get $rows)) (local.get $out))
      (local.set $a (i32.add (local.get $a) (local.get $stride)))
      (local.set $rows (i32.add (local.get $rows) (i32.const 32)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next))))

  ;; rowBlockNormalProduct for k right-hand columns: each block of four rows of A (m columns) gives
  ;; rows[4·block + r] (k values each, row-major) = a_r · B for B (m × k, row-major at b) by the
  ;; row-block product, then column l of outColumns (m values at outColumns + 8·m·l) += Σ_r a_r·rows[r][l]
  ;; for every l, while the block is in cache: out += Aᵀ(A·B) reading A once. kernel-methods' FALKON
  ;; iterations, a range of blocks per thread.
  (func (export "rowBlockNormalColumns") (param $a i32) (param $blocks i32) (param $m i32) (param $b i32) (param $k i32) (param $rows i32) (param $outColumns i32)
    (local $block i32) (local $l i32) (local $stride i32) (local $rowBytes i32) (local $at i32)
    (local.set $stride (i32.shl (local.get $m) (i32.const 5)))
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 3)))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $block) (local.get $blocks)))
      (call $rowBlockProductsFrom (local.get $a) (i32.shl (local.get $m) (i32.const 3)) (i32.const 8) (local.get $m)
        (local.get $b) (local.get $k) (i32.const 0) (local.get $k)
        (local.get $rows) (i32.add (local.get $rows) (local.get $rowBytes))
        (i32.add (local.get $rows) (i32.shl (local.get $rowBytes) (i32.const 1))) (i32.add (local.get $rows) (i32.mul (local.get $rowBytes) (i32.const 3)))
        (i32.const 0))
      (local.set $l (i32.const 0))
      (block $columnsDone (loop $columns
        (br_if $columnsDone (i32.ge_s (local.get $l) (local.get $k)))
        (local.set $at (i32.add (local.get $rows) (i32.shl (local.get $l) (i32.const 3))))
        (call $rowBlockTransposedAxpy (local.get $a) (local.get $m)
          (f64.load (local.get $at)) (f64.load (i32.add (local.get $at) (local.get $rowBytes)))
          (f64.load (i32.add (local.get $at) (i32.shl (local.get $rowBytes) (i32.const 1))))
          (f64.load (i32.add (local.get $at) (i32.mul (local.get $rowBytes) (i32.const 3))))
          (i32.add (local.get $outColumns) (i32.mul (local.get $l) (i32.shl (local.get $m) (i32.const 3)))))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $columns)))
      (local.set $a (i32.add (local.get $a) (local.get $stride)))
      (local.set $rows (i32.add (local.get $rows) (i32.shl (local.get $rowBytes) (i32.const 2))))
      (local.set $block (i32.add (local.get $block) (i32.const 1)))
      (br $next))))

  ;; The symmetric product p = S·v of a Householder tridiagonalization step, S (length × length,
  ;; row stride ld values, at a) read through its upper triangle only: row t gives its own entry of
  ;; S·v (a dot product over j ≥ t) and, by symmetry, adds s_tj·v_t to w[j] for j > t. w must start
  ;; at zero. Rows go four at a time, so w and v are loaded and stored once per pair of columns for
  ;; four rows instead of once per row (the product is bound by those L1 accesses, not by S):
  ;; - the block's 4×4 upper triangle entry by entry ($upperEntry, row after row);
  ;; - columns from t+4 in pairs: each row's dot in its own f64x2 (lanes: even and odd offsets),
  ;;   w[j] += (s_0j·v_0 + s_1j·v_1) + (s_2j·v_2 + s_3j·v_3);
  ;; - an odd last column by $upperEntry, row after row;
  ;; - w[t+r] += own_r + (lane 0 + lane 1), own_r being the diagonal block's and last column's terms.
  ;; The last length mod 4 rows go one at a time (own entry, pairs from t+1, odd last column).
  ;; eigh's JavaScript loop (symmetricUpperProduct) sums in the same order: the same float64 values.
  (func (export "symmetricUpperMatvec") (param $a i32) (param $ld i32) (param $length i32) (param $v i32) (param $w i32)
    (local $t i32) (local $j i32) (local $q i32) (local $o i32) (local $stride i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $vt0 f64) (local $vt1 f64) (local $vt2 f64) (local $vt3 f64)
    (local $own0 f64) (local $own1 f64) (local $own2 f64) (local $own3 f64)
    (local $vs0 v128) (local $vs1 v128) (local $vs2 v128) (local $vs3 v128)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $vj v128)
    (local.set $stride (i32.shl (local.get $ld) (i32.const 3)))
    (block $blocksDone (loop $blocks
      (br_if $blocksDone (i32.gt_s (i32.add (local.get $t) (i32.const 4)) (local.get $length)))
      (local.set $r0 (i32.add (local.get $a) (i32.mul (local.get $t) (local.get $stride))))
      (local.set $r1 (i32.add (local.get $r0) (local.get $stride)))
      (local.set $r2 (i32.add (local.get $r1) (local.get $stride)))
      (local.set $r3 (i32.add (local.get $r2) (local.get $stride)))
      (local.set $q (i32.add (local.get $v) (i32.shl (local.get $t) (i32.const 3))))
      (local.set $vt0 (f64.load (local.get $q)))
      (local.set $vt1 (f64.load offset=8 (local.get $q)))
      (local.set $vt2 (f64.load offset=16 (local.get $q)))
      (local.set $vt3 (f64.load offset=24 (local.get $q)))
      (local.set $q (i32.shl (local.get $t) (i32.const 3)))
      (local.set $own0 (f64.mul (f64.load (i32.add (local.get $r0) (local.get $q))) (local.get $vt0)))
      (local.set $own0 (call $upperEntry (local.get $r0) (i32.add (local.get $t) (i32.const 1)) (local.get $v) (local.get $w) (local.get $vt0) (local.get $own0)))
      (local.set $own0 (call $upperEntry (local.get $r0) (i32.add (local.get $t) (i32.const 2)) (local.get $v) (local.get $w) (local.get $vt0) (local.get $own0)))
      (local.set $own0 (call $upperEntry (local.get $r0) (i32.add (local.get $t) (i32.const 3)) (local.get $v) (local.get $w) (local.get $vt0) (local.get $own0)))
      (local.set $own1 (f64.mul (f64.load offset=8 (i32.add (local.get $r1) (local.get $q))) (local.get $vt1)))
      (local.set $own1 (call $upperEntry (local.get $r1) (i32.add (local.get $t) (i32.const 2)) (local.get $v) (local.get $w) (local.get $vt1) (local.get $own1)))
      (local.set $own1 (call $upperEntry (local.get $r1) (i32.add (local.get $t) (i32.const 3)) (local.get $v) (local.get $w) (local.get $vt1) (local.get $own1)))
      (local.set $own2 (f64.mul (f64.load offset=16 (i32.add (local.get $r2) (local.get $q))) (local.get $vt2)))
      (local.set $own2 (call $upperEntry (local.get $r2) (i32.add (local.get $t) (i32.const 3)) (local.get $v) (local.get $w) (local.get $vt2) (local.get $own2)))
      (local.set $own3 (f64.mul (f64.load offset=24 (i32.add (local.get $r3) (local.get $q))) (local.get $vt3)))
      (local.set $vs0 (f64x2.splat (local.get $vt0)))
      (local.set $vs1 (f64x2.splat (local.get $vt1)))
      (local.set $vs2 (f64x2.splat (local.get $vt2)))
      (local.set $vs3 (f64x2.splat (local.get $vt3)))
      (local.set $acc0 (v128.const f64x2 0 0))
      (local.set $acc1 (v128.const f64x2 0 0))
      (local.set $acc2 (v128.const f64x2 0 0))
      (local.set $acc3 (v128.const f64x2 0 0))
      (local.set $j (i32.add (local.get $t) (i32.const 4)))
      (block $pairsDone (loop $pairs
        (br_if $pairsDone (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $length)))
        (local.set $q (i32.shl (local.get $j) (i32.const 3)))
        (local.set $s0 (v128.load (i32.add (local.get $r0) (local.get $q))))
        (local.set $s1 (v128.load (i32.add (local.get $r1) (local.get $q))))
        (local.set $s2 (v128.load (i32.add (local.get $r2) (local.get $q))))
        (local.set $s3 (v128.load (i32.add (local.get $r3) (local.get $q))))
        (local.set $vj (v128.load (i32.add (local.get $v) (local.get $q))))
        (local.set $acc0 (f64x2.relaxed_madd (local.get $s0) (local.get $vj) (local.get $acc0)))
        (local.set $acc1 (f64x2.relaxed_madd (local.get $s1) (local.get $vj) (local.get $acc1)))
        (local.set $acc2 (f64x2.relaxed_madd (local.get $s2) (local.get $vj) (local.get $acc2)))
        (local.set $acc3 (f64x2.relaxed_madd (local.get $s3) (local.get $vj) (local.get $acc3)))
        (local.set $o (i32.add (local.get $w) (local.get $q)))
        (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o))
          (f64x2.add
            (f64x2.add (f64x2.mul (local.get $s0) (local.get $vs0)) (f64x2.mul (local.get $s1) (local.get $vs1)))
            (f64x2.add (f64x2.mul (local.get $s2) (local.get $vs2)) (f64x2.mul (local.get $s3) (local.get $vs3))))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
      (if (i32.lt_s (local.get $j) (local.get $length))
        (then
          (local.set $own0 (call $upperEntry (local.get $r0) (local.get $j) (local.get $v) (local.get $w) (local.get $vt0) (local.get $own0)))
          (local.set $own1 (call $upperEntry (local.get $r1) (local.get $j) (local.get $v) (local.get $w) (local.get $vt1) (local.get $own1)))
          (local.set $own2 (call $upperEntry (local.get $r2) (local.get $j) (local.get $v) (local.get $w) (local.get $vt2) (local.get $own2)))
          (local.set $own3 (call $upperEntry (local.get $r3) (local.get $j) (local.get $v) (local.get $w) (local.get $vt3) (local.get $own3)))))
      (local.set $o (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 3))))
      (f64.store (local.get $o) (f64.add (f64.load (local.get $o)) (f64.add (local.get $own0)
        (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))))
      (f64.store offset=8 (local.get $o) (f64.add (f64.load offset=8 (local.get $o)) (f64.add (local.get $own1)
        (f64.add (f64x2.extract_lane 0 (local.get $acc1)) (f64x2.extract_lane 1 (local.get $acc1))))))
      (f64.store offset=16 (local.get $o) (f64.add (f64.load offset=16 (local.get $o)) (f64.add (local.get $own2)
        (f64.add (f64x2.extract_lane 0 (local.get $acc2)) (f64x2.extract_lane 1 (local.get $acc2))))))
      (f64.store offset=24 (local.get $o) (f64.add (f64.load offset=24 (local.get $o)) (f64.add (local.get $own3)
        (f64.add (f64x2.extract_lane 0 (local.get $acc3)) (f64x2.extract_lane 1 (local.get $acc3))))))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br $blocks)))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_s (local.get $t) (local.get $length)))
      (local.set $r0 (i32.add (local.get $a) (i32.mul (local.get $t) (local.get $stride))))
      (local.set $vt0 (f64.load (i32.add (local.get $v) (i32.shl (local.get $t) (i32.const 3)))))
      (local.set $vs0 (f64x2.splat (local.get $vt0)))
      (local.set $own0 (f64.mul (f64.load (i32.add (local.get $r0) (i32.shl (local.get $t) (i32.const 3)))) (local.get $vt0)))
      (local.set $acc0 (v128.const f64x2 0 0))
      (local.set $j (i32.add (local.get $t) (i32.const 1)))
      (block $pairsDone (loop $pairs
        (br_if $pairsDone (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $length)))
        (local.set $q (i32.shl (local.get $j) (i32.const 3)))
        (local.set $s0 (v128.load (i32.add (local.get $r0) (local.get $q))))
        (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $s0) (v128.load (i32.add (local.get $v) (local.get $q))))))
        (local.set $o (i32.add (local.get $w) (local.get $q)))
        (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (f64x2.mul (local.get $s0) (local.get $vs0))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
      (if (i32.lt_s (local.get $j) (local.get $length))
        (then (local.set $own0 (call $upperEntry (local.get $r0) (local.get $j) (local.get $v) (local.get $w) (local.get $vt0) (local.get $own0)))))
      (local.set $o (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 3))))
      (f64.store (local.get $o) (f64.add (f64.load (local.get $o)) (f64.add (local.get $own0)
        (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $rows))))

  ;; One entry s = row[j] of the symmetric product's upper triangle: w[j] += s·vt, and returns
  ;; own + s·v[j] (the row's running dot).
  (func $upperEntry (param $row i32) (param $j i32) (param $v i32) (param $w i32) (param $vt f64) (param $own f64) (result f64)
    (local $q i32) (local $s f64) (local $o i32)
    (local.set $q (i32.shl (local.get $j) (i32.const 3)))
    (local.set $s (f64.load (i32.add (local.get $row) (local.get $q))))
    (local.set $o (i32.add (local.get $w) (local.get $q)))
    (f64.store (local.get $o) (f64.add (f64.load (local.get $o)) (f64.mul (local.get $s) (local.get $vt))))
    (f64.add (local.get $own) (f64.mul (local.get $s) (f64.load (i32.add (local.get $v) (local.get $q))))))

  ;; Recorded sequences of plane rotations applied to the columns of a matrix V stored transposed:
  ;; rows (k, k+1) of Vᵀ (row stride ld values, ld a multiple of 8, at vt) are V's columns (k, k+1).
  ;; Sequence q (four f64 at desc + 32q: low, high, ascending 1/0, offset) runs rotation k with
  ;; cos[offset + k], sin[offset + k] for k = low..high-1 in ascending order, mapping (x, y) to
  ;; (c·x + s·y, c·y − s·x), or from high-1 down with the pair's roles mirrored (the same form with
  ;; −s). Eight columns of Vᵀ (eight rows of V) at a time, four f64x2 chains in flight, the value
  ;; passed along each chain kept in a register; every sequence runs over a block of eight before
  ;; the next block. Same operations as tensor-core's ColumnRotationBatch loops: the same values.
  (func (export "rotationChains") (param $vt i32) (param $ld i32) (param $blocks i32) (param $count i32) (param $desc i32) (param $cos i32) (param $sin i32)
    (local $b i32) (local $q i32) (local $d i32) (local $low i32) (local $high i32) (local $offset i32) (local $i i32) (local $n i32)
    (local $column i32) (local $row i32) (local $coef i32) (local $step i32) (local $coefStep i32) (local $sign f64)
    (local $carry i32) (local $read i32) (local $write i32)
    (local $c v128) (local $s v128)
    (local $k0 v128) (local $k1 v128) (local $k2 v128) (local $k3 v128)
    (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    (local.set $row (i32.shl (local.get $ld) (i32.const 3)))
    (block $blocksDone (loop $nextBlock
      (br_if $blocksDone (i32.ge_s (local.get $b) (local.get $blocks)))
      (local.set $column (i32.add (local.get $vt) (i32.shl (local.get $b) (i32.const 6))))
      (local.set $q (i32.const 0))
      (block $sequencesDone (loop $nextSequence
        (br_if $sequencesDone (i32.ge_s (local.get $q) (local.get $count)))
        (local.set $d (i32.add (local.get $desc) (i32.shl (local.get $q) (i32.const 5))))
        (local.set $low (i32.trunc_f64_s (f64.load (local.get $d))))
        (local.set $high (i32.trunc_f64_s (f64.load offset=8 (local.get $d))))
        (local.set $offset (i32.trunc_f64_s (f64.load offset=24 (local.get $d))))
        (local.set $n (i32.sub (local.get $high) (local.get $low)))
        (if (f64.ne (f64.load offset=16 (local.get $d)) (f64.const 0))
          (then
            ;; ascending: carry starts at row low; read k+1, write k; the carry ends at row high
            (local.set $carry (i32.add (local.get $column) (i32.mul (local.get $low) (local.get $row))))
            (local.set $write (local.get $carry))
            (local.set $read (i32.add (local.get $carry) (local.get $row)))
            (local.set $coef (i32.shl (i32.add (local.get $offset) (local.get $low)) (i32.const 3)))
            (local.set $step (local.get $row))
            (local.set $coefStep (i32.const 8))
            (local.set $sign (f64.const 1)))
          (else
            ;; descending: carry starts at row high; read k, write k+1; the carry ends at row low
            (local.set $carry (i32.add (local.get $column) (i32.mul (local.get $high) (local.get $row))))
            (local.set $write (local.get $carry))
            (local.set $read (i32.sub (local.get $carry) (local.get $row)))
            (local.set $coef (i32.shl (i32.sub (i32.add (local.get $offset) (local.get $high)) (i32.const 1)) (i32.const 3)))
            (local.set $step (i32.sub (i32.const 0) (local.get $row)))
            (local.set $coefStep (i32.const -8))
            (local.set $sign (f64.const -1))))
        (local.set $k0 (v128.load offset=0 (local.get $carry)))
        (local.set $k1 (v128.load offset=16 (local.get $carry)))
        (local.set $k2 (v128.load offset=32 (local.get $carry)))
        (local.set $k3 (v128.load offset=48 (local.get $carry)))
        (local.set $i (i32.const 0))
        (block $chainDone (loop $chain
          (br_if $chainDone (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $c (f64x2.splat (f64.load (i32.add (local.get $cos) (local.get $coef)))))
          (local.set $s (f64x2.splat (f64.mul (local.get $sign) (f64.load (i32.add (local.get $sin) (local.get $coef))))))
        (local.set $y0 (v128.load offset=0 (local.get $read)))
        (v128.store offset=0 (local.get $write) (f64x2.add (f64x2.mul (local.get $c) (local.get $k0)) (f64x2.mul (local.get $s) (local.get $y0))))
        (local.set $k0 (f64x2.sub (f64x2.mul (local.get $c) (local.get $y0)) (f64x2.mul (local.get $s) (local.get $k0))))
        (local.set $y1 (v128.load offset=16 (local.get $read)))
        (v128.store offset=16 (local.get $write) (f64x2.add (f64x2.mul (local.get $c) (local.get $k1)) (f64x2.mul (local.get $s) (local.get $y1))))
        (local.set $k1 (f64x2.sub (f64x2.mul (local.get $c) (local.get $y1)) (f64x2.mul (local.get $s) (local.get $k1))))
        (local.set $y2 (v128.load offset=32 (local.get $read)))
        (v128.store offset=32 (local.get $write) (f64x2.add (f64x2.mul (local.get $c) (local.get $k2)) (f64x2.mul (local.get $s) (local.get $y2))))
        (local.set $k2 (f64x2.sub (f64x2.mul (local.get $c) (local.get $y2)) (f64x2.mul (local.get $s) (local.get $k2))))
        (local.set $y3 (v128.load offset=48 (local.get $read)))
        (v128.store offset=48 (local.get $write) (f64x2.add (f64x2.mul (local.get $c) (local.get $k3)) (f64x2.mul (local.get $s) (local.get $y3))))
        (local.set $k3 (f64x2.sub (f64x2.mul (local.get $c) (local.get $y3)) (f64x2.mul (local.get $s) (local.get $k3))))
          (local.set $read (i32.add (local.get $read) (local.get $step)))
          (local.set $write (i32.add (local.get $write) (local.get $step)))
          (local.set $coef (i32.add (local.get $coef) (local.get $coefStep)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $chain)))
        ;; the chain's last value lands on the far end (the row written next)
        (local.set $carry (local.get $write))
        (v128.store offset=0 (local.get $carry) (local.get $k0))
        (v128.store offset=16 (local.get $carry) (local.get $k1))
        (v128.store offset=32 (local.get $carry) (local.get $k2))
        (v128.store offset=48 (local.get $carry) (local.get $k3))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $nextSequence)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $nextBlock))))

  ;; Columns [from, to) of T (p rows, row k at t + 8·k·ld) solved in place against the lower-triangular
  ;; L (row j at l + 8·j·ls, diagonal included): T[j][r] ← (T[j][r] − Σ_{k<j} L[j][k]·T[k][r]) / L[j][j]
  ;; for j = 0..p−1, so T becomes L⁻¹T, each sum in ascending k. Row by row, eight columns at a time
  ;; in four independent lane pairs, then pairs, then an odd last column in lane 0. Blocked
  ;; Cholesky's panel (T holds the rows below the diagonal block, transposed, so L21ᵀ = L11⁻¹A21ᵀ;
  ;; threads take ranges of columns) and lowerSolveRows' top-down solves.
  (func $lowerSolveColumns (export "lowerSolveColumns") (param $t i32) (param $ld i32) (param $p i32) (param $l i32) (param $ls i32) (param $from i32) (param $to i32)
    (local $i i32) (local $j i32) (local $c i32) (local $row i32) (local $ti i32) (local $tj i32) (local $lj i32) (local $rowBytes i32)
    (local $neg v128) (local $v v128) (local $pivot v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $rowBytes (i32.shl (local.get $ld) (i32.const 3)))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $p)))
      (local.set $row (i32.add (local.get $l) (i32.shl (i32.mul (local.get $i) (local.get $ls)) (i32.const 3))))
      (local.set $ti (i32.add (local.get $t) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $pivot (v128.load64_splat (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $c (local.get $from))
      ;; eight columns at a time: four independent sums
      (block $eightsDone (loop $eights
        (br_if $eightsDone (i32.gt_s (i32.add (local.get $c) (i32.const 8)) (local.get $to)))
        (local.set $a0 (v128.load (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3)))))
        (local.set $a1 (v128.load offset=16 (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3)))))
        (local.set $a2 (v128.load offset=32 (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3)))))
        (local.set $a3 (v128.load offset=48 (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3)))))
        (local.set $lj (local.get $row))
        (local.set $tj (i32.add (local.get $t) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $j (i32.const 0))
        (block $dotsDone (loop $dots
          (br_if $dotsDone (i32.ge_s (local.get $j) (local.get $i)))
          (local.set $neg (f64x2.neg (v128.load64_splat (local.get $lj))))
          (local.set $v (v128.load (local.get $tj)))
          (local.set $a0 (f64x2.relaxed_madd (local.get $neg) (local.get $v) (local.get $a0)))
          (local.set $v (v128.load offset=16 (local.get $tj)))
          (local.set $a1 (f64x2.relaxed_madd (local.get $neg) (local.get $v) (local.get $a1)))
          (local.set $v (v128.load offset=32 (local.get $tj)))
          (local.set $a2 (f64x2.relaxed_madd (local.get $neg) (local.get $v) (local.get $a2)))
          (local.set $v (v128.load offset=48 (local.get $tj)))
          (local.set $a3 (f64x2.relaxed_madd (local.get $neg) (local.get $v) (local.get $a3)))
          (local.set $lj (i32.add (local.get $lj) (i32.const 8)))
          (local.set $tj (i32.add (local.get $tj) (local.get $rowBytes)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $dots)))
        (v128.store (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3))) (f64x2.div (local.get $a0) (local.get $pivot)))
        (v128.store offset=16 (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3))) (f64x2.div (local.get $a1) (local.get $pivot)))
        (v128.store offset=32 (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3))) (f64x2.div (local.get $a2) (local.get $pivot)))
        (v128.store offset=48 (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3))) (f64x2.div (local.get $a3) (local.get $pivot)))
        (local.set $c (i32.add (local.get $c) (i32.const 8)))
        (br $eights)))
      ;; then pairs, and an odd last column in lane 0
      (block $pairsDone (loop $pairs
        (br_if $pairsDone (i32.ge_s (local.get $c) (local.get $to)))
        (local.set $a0 (v128.load64_splat (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3)))))
        (if (i32.lt_s (i32.add (local.get $c) (i32.const 1)) (local.get $to))
          (then (local.set $a0 (v128.load (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3)))))))
        (local.set $lj (local.get $row))
        (local.set $tj (i32.add (local.get $t) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $j (i32.const 0))
        (block $pairDotsDone (loop $pairDots
          (br_if $pairDotsDone (i32.ge_s (local.get $j) (local.get $i)))
          (local.set $neg (f64x2.neg (v128.load64_splat (local.get $lj))))
          ;; an odd last column reads its entry into both lanes (never past the range)
          (local.set $v (v128.load64_splat (local.get $tj)))
          (if (i32.lt_s (i32.add (local.get $c) (i32.const 1)) (local.get $to))
            (then (local.set $v (v128.load (local.get $tj)))))
          (local.set $a0 (f64x2.relaxed_madd (local.get $neg) (local.get $v) (local.get $a0)))
          (local.set $lj (i32.add (local.get $lj) (i32.const 8)))
          (local.set $tj (i32.add (local.get $tj) (local.get $rowBytes)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $pairDots)))
        (local.set $a0 (f64x2.div (local.get $a0) (local.get $pivot)))
        (f64.store (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3))) (f64x2.extract_lane 0 (local.get $a0)))
        (if (i32.lt_s (i32.add (local.get $c) (i32.const 1)) (local.get $to))
          (then (f64.store offset=8 (i32.add (local.get $ti) (i32.shl (local.get $c) (i32.const 3))) (f64x2.extract_lane 1 (local.get $a0)))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $pairs)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows))))

  ;; x ← L⁻¹x (transpose 0: top-down, x_i = (x_i − L_i,<i · x_<i) / L_ii, the dot form) or L⁻ᵀx
  ;; (transpose 1: bottom-up, x_i /= L_ii, then x_<i −= x_i·L_i,<i, the axpy form) for the lower-
  ;; triangular L (n × n, row-major at l): both read L by rows. lowerTriangularSolver's vector solves.
  (func (export "lowerSolveVector") (param $l i32) (param $n i32) (param $x i32) (param $transpose i32)
    (local $i i32) (local $row i32) (local $p i32) (local $xi f64)
    (if (i32.eqz (local.get $transpose))
      (then
        (block $forwardDone (loop $forward
          (br_if $forwardDone (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $row (i32.add (local.get $l) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
          (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
          (f64.store (local.get $p)
            (f64.div (f64.sub (f64.load (local.get $p)) (call $dotQuads (local.get $row) (local.get $x) (local.get $i)))
                     (f64.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $forward))))
      (else
        (local.set $i (i32.sub (local.get $n) (i32.const 1)))
        (block $backwardDone (loop $backward
          (br_if $backwardDone (i32.lt_s (local.get $i) (i32.const 0)))
          (local.set $row (i32.add (local.get $l) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
          (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
          (local.set $xi (f64.div (f64.load (local.get $p)) (f64.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3))))))
          (f64.store (local.get $p) (local.get $xi))
          (call $axpyPairs (f64.neg (local.get $xi)) (local.get $row) (local.get $x) (local.get $i))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br $backward))))))

  ;; lowerSolveVector for k right-hand columns at once: X ← L⁻¹X (transpose 0) or L⁻ᵀX (transpose 1),
  ;; X (n × k, row-major at x) in place, L lower-triangular (n × n, row-major at l, read by rows).
  ;; Top-down it is lowerSolveColumns over all k columns; bottom-up, row i is divided by L_ii and
  ;; then taken from every row j < i times L_ij. Each entry sums in the order of solveTriangular's
  ;; loop for that column.
  (func (export "lowerSolveRows") (param $l i32) (param $n i32) (param $x i32) (param $k i32) (param $transpose i32)
    (local $i i32) (local $j i32) (local $c i32) (local $row i32) (local $xi i32) (local $xj i32) (local $rowBytes i32)
    (local $neg v128) (local $v v128) (local $pivot v128) (local $a0 v128)
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 3)))
    (if (i32.eqz (local.get $transpose))
      (then
        (call $lowerSolveColumns (local.get $x) (local.get $k) (local.get $n) (local.get $l) (local.get $n) (i32.const 0) (local.get $k)))
      (else
        (local.set $i (i32.sub (local.get $n) (i32.const 1)))
        (block $backwardDone (loop $backward
          (br_if $backwardDone (i32.lt_s (local.get $i) (i32.const 0)))
          (local.set $row (i32.add (local.get $l) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
          (local.set $xi (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $rowBytes))))
          (local.set $pivot (v128.load64_splat (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3)))))
          ;; row i divided by its pivot (pairs, an odd last column alone)
          (local.set $c (i32.const 0))
          (block $divDone (loop $div
            (br_if $divDone (i32.gt_s (i32.add (local.get $c) (i32.const 2)) (local.get $k)))
            (v128.store (i32.add (local.get $xi) (i32.shl (local.get $c) (i32.const 3)))
              (f64x2.div (v128.load (i32.add (local.get $xi) (i32.shl (local.get $c) (i32.const 3)))) (local.get $pivot)))
            (local.set $c (i32.add (local.get $c) (i32.const 2)))
            (br $div)))
          (if (i32.lt_s (local.get $c) (local.get $k))
            (then (f64.store (i32.add (local.get $xi) (i32.shl (local.get $c) (i32.const 3)))
              (f64.div (f64.load (i32.add (local.get $xi) (i32.shl (local.get $c) (i32.const 3)))) (f64x2.extract_lane 0 (local.get $pivot))))))
          ;; every row j < i: x_j −= L_ij·x_i
          (local.set $j (i32.const 0))
          (local.set $xj (local.get $x))
          (block $rowsDone (loop $rows
            (br_if $rowsDone (i32.ge_s (local.get $j) (local.get $i)))
            (local.set $neg (f64x2.neg (v128.load64_splat (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3))))))
            (local.set $c (i32.const 0))
            (block $axpyDone (loop $axpy
              (br_if $axpyDone (i32.gt_s (i32.add (local.get $c) (i32.const 2)) (local.get $k)))
              (local.set $v (v128.load (i32.add (local.get $xi) (i32.shl (local.get $c) (i32.const 3)))))
              (local.set $a0 (v128.load (i32.add (local.get $xj) (i32.shl (local.get $c) (i32.const 3)))))
              (local.set $a0 (f64x2.relaxed_madd (local.get $neg) (local.get $v) (local.get $a0)))
              (v128.store (i32.add (local.get $xj) (i32.shl (local.get $c) (i32.const 3))) (local.get $a0))
              (local.set $c (i32.add (local.get $c) (i32.const 2)))
              (br $axpy)))
            (if (i32.lt_s (local.get $c) (local.get $k))
              (then
                (local.set $v (v128.load64_splat (i32.add (local.get $xi) (i32.shl (local.get $c) (i32.const 3)))))
                (local.set $a0 (v128.load64_splat (i32.add (local.get $xj) (i32.shl (local.get $c) (i32.const 3)))))
                (local.set $a0 (f64x2.relaxed_madd (local.get $neg) (local.get $v) (local.get $a0)))
                (f64.store (i32.add (local.get $xj) (i32.shl (local.get $c) (i32.const 3))) (f64x2.extract_lane 0 (local.get $a0)))))
            (local.set $xj (i32.add (local.get $xj) (local.get $rowBytes)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $rows)))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br $backward))))))

  ;; X ← L⁻¹X (transpose 0) or L⁻ᵀX (transpose 1) for k columns of n float64 values stored one
  ;; after another at x, in place, with L lower-triangular in float32 (row i at l + 4·i·n bytes), its
  ;; entries promoted exactly and every sum in float64: the solves of the mixed-precision refinement
  ;; (positiveDefiniteSolve) against the factor where the factorization left it. Column by column,
  ;; reading L by rows: top-down, x_i = (x_i − L_i,<i · x_<i) / L_ii by dots over four entries a
  ;; step; bottom-up, x_i /= L_ii, then x_<i −= x_i·L_i,<i by axpys over pairs.
  (func (export "lowerSolveColumnsF32") (param $l i32) (param $n i32) (param $x i32) (param $k i32) (param $transpose i32)
    (local $c i32) (local $i i32) (local $j i32) (local $row i32) (local $xi i32) (local $xj i32)
    (local $low v128) (local $high v128) (local $neg v128) (local $lPair v128) (local $xPair v128) (local $sum f64) (local $value f64)
    (block $columnsDone (loop $columns
      (br_if $columnsDone (i32.ge_s (local.get $c) (local.get $k)))
      (if (i32.eqz (local.get $transpose))
        (then
          (local.set $i (i32.const 0))
          (block $forwardDone (loop $forward
            (br_if $forwardDone (i32.ge_s (local.get $i) (local.get $n)))
            (local.set $row (i32.add (local.get $l) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 2))))
            (local.set $low (f64x2.splat (f64.const 0)))
            (local.set $high (f64x2.splat (f64.const 0)))
            (local.set $j (i32.const 0))
            (block $quadsDone (loop $quads
              (br_if $quadsDone (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $i)))
              (local.set $xj (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))))
              (local.set $lPair (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))
              (local.set $xPair (v128.load (local.get $xj)))
              (local.set $low (f64x2.relaxed_madd (local.get $lPair) (local.get $xPair) (local.get $low)))
              (local.set $lPair (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))
              (local.set $xPair (v128.load offset=16 (local.get $xj)))
              (local.set $high (f64x2.relaxed_madd (local.get $lPair) (local.get $xPair) (local.get $high)))
              (local.set $j (i32.add (local.get $j) (i32.const 4)))
              (br $quads)))
            (local.set $low (f64x2.add (local.get $low) (local.get $high)))
            (local.set $sum (f64.add (f64x2.extract_lane 0 (local.get $low)) (f64x2.extract_lane 1 (local.get $low))))
            (block $tailDone (loop $tail
              (br_if $tailDone (i32.ge_s (local.get $j) (local.get $i)))
              (local.set $sum (f64.add (local.get $sum)
                (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))
                         (f64.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3)))))))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $tail)))
            (local.set $xi (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
            (f64.store (local.get $xi) (f64.div (f64.sub (f64.load (local.get $xi)) (local.get $sum))
              (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $forward))))
        (else
          (local.set $i (i32.sub (local.get $n) (i32.const 1)))
          (block $backwardDone (loop $backward
            (br_if $backwardDone (i32.lt_s (local.get $i) (i32.const 0)))
            (local.set $row (i32.add (local.get $l) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 2))))
            (local.set $xi (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $value (f64.div (f64.load (local.get $xi))
              (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))))
            (f64.store (local.get $xi) (local.get $value))
            (local.set $neg (f64x2.splat (f64.neg (local.get $value))))
            (local.set $j (i32.const 0))
            (block $pairsDone (loop $pairs
              (br_if $pairsDone (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $i)))
              (local.set $xj (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))))
              (local.set $lPair (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))
              (local.set $xPair (v128.load (local.get $xj)))
              (v128.store (local.get $xj) (f64x2.relaxed_madd (local.get $neg) (local.get $lPair) (local.get $xPair)))
              (local.set $j (i32.add (local.get $j) (i32.const 2)))
              (br $pairs)))
            (if (i32.lt_s (local.get $j) (local.get $i))
              (then
                (local.set $xj (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))))
                (f64.store (local.get $xj) (f64.sub (f64.load (local.get $xj))
                  (f64.mul (local.get $value) (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))))))
            (local.set $i (i32.sub (local.get $i) (i32.const 1)))
            (br $backward)))))
      (local.set $x (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 3))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $columns))))

  ;; One row of the residual R = B − A·X for a symmetric A read through its lower triangle, with X and
  ;; R as k columns of n float64 values one after another (column c at x + 8·c·n, r + 8·c·n): row i's
  ;; entries a_i,<i (at a) and its diagonal serve r_i (the row) and, mirrored, r_<i (the column):
  ;; r_i −= diagonal·x_i + a_i,<i · x_<i and r_<i −= x_i·a_i,<i, for every column while the row is in
  ;; cache. The mixed-precision refinement's float64 residual (positiveDefiniteSolve), two entries a step.
  (func (export "symmetricResidualRow") (param $a i32) (param $i i32) (param $diagonal f64) (param $x i32) (param $r i32) (param $n i32) (param $k i32)
    (local $c i32) (local $j i32) (local $xc i32) (local $rc i32) (local $xi f64) (local $sum f64)
    (local $acc v128) (local $neg v128) (local $aPair v128) (local $xPair v128) (local $rPair v128)
    (block $columnsDone (loop $columns
      (br_if $columnsDone (i32.ge_s (local.get $c) (local.get $k)))
      (local.set $xc (i32.add (local.get $x) (i32.shl (i32.mul (local.get $c) (local.get $n)) (i32.const 3))))
      (local.set $rc (i32.add (local.get $r) (i32.shl (i32.mul (local.get $c) (local.get $n)) (i32.const 3))))
      (local.set $xi (f64.load (i32.add (local.get $xc) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $neg (f64x2.splat (f64.neg (local.get $xi))))
      (local.set $acc (f64x2.splat (f64.const 0)))
      (local.set $j (i32.const 0))
      (block $pairsDone (loop $pairs
        (br_if $pairsDone (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $i)))
        (local.set $aPair (v128.load (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $xPair (v128.load (i32.add (local.get $xc) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $rPair (v128.load (i32.add (local.get $rc) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $acc (f64x2.relaxed_madd (local.get $aPair) (local.get $xPair) (local.get $acc)))
        (v128.store (i32.add (local.get $rc) (i32.shl (local.get $j) (i32.const 3)))
          (f64x2.relaxed_madd (local.get $neg) (local.get $aPair) (local.get $rPair)))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
      (local.set $sum (f64.add (f64.mul (local.get $diagonal) (local.get $xi))
        (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc)))))
      (if (i32.lt_s (local.get $j) (local.get $i))
        (then
          (local.set $sum (f64.add (local.get $sum)
            (f64.mul (f64.load (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 3))))
                     (f64.load (i32.add (local.get $xc) (i32.shl (local.get $j) (i32.const 3)))))))
          (f64.store (i32.add (local.get $rc) (i32.shl (local.get $j) (i32.const 3)))
            (f64.sub (f64.load (i32.add (local.get $rc) (i32.shl (local.get $j) (i32.const 3))))
              (f64.mul (local.get $xi) (f64.load (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 3)))))))))
      (f64.store (i32.add (local.get $rc) (i32.shl (local.get $i) (i32.const 3)))
        (f64.sub (f64.load (i32.add (local.get $rc) (i32.shl (local.get $i) (i32.const 3)))) (local.get $sum)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $columns))))

  ;; w[j] += c_t·a_t[j] for rows t < height (row t at a + 8·t·ld, j < width) in order of t, skipping
  ;; c_t = 0: w = Aᵀc, row by row (a left Householder reflection's vᵀA in svd's bidiagonalization),
  ;; each entry updated as tensor-core's axpy does.
  (func (export "rowsAxpyInto") (param $a i32) (param $ld i32) (param $height i32) (param $width i32) (param $coef i32) (param $w i32)
    (local $t i32) (local $c f64)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $t) (local.get $height)))
      (local.set $c (f64.load (i32.add (local.get $coef) (i32.shl (local.get $t) (i32.const 3)))))
      (if (f64.ne (local.get $c) (f64.const 0))
        (then (call $axpyPairs (local.get $c) (i32.add (local.get $a) (i32.shl (i32.mul (local.get $t) (local.get $ld)) (i32.const 3))) (local.get $w) (local.get $width))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $next))))

  ;; a_t[j] += (scale·c_t)·w[j] for rows t < height with c_t ≠ 0: the rank-1 update A ← A − τ c wᵀ
  ;; (scale = −τ) of the same reflection.
  (func (export "rowsAxpyFrom") (param $a i32) (param $ld i32) (param $height i32) (param $width i32) (param $coef i32) (param $scale f64) (param $w i32)
    (local $t i32) (local $c f64)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $t) (local.get $height)))
      (local.set $c (f64.load (i32.add (local.get $coef) (i32.shl (local.get $t) (i32.const 3)))))
      (if (f64.ne (local.get $c) (f64.const 0))
        (then (call $axpyPairs (f64.mul (local.get $scale) (local.get $c)) (local.get $w)
          (i32.add (local.get $a) (i32.shl (i32.mul (local.get $t) (local.get $ld)) (i32.const 3))) (local.get $width))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $next))))

  ;; For each row t < rows (at a + 8·t·ld): d = a_t·v ($dotQuads), then a_t += (scale·d)·v unless
  ;; d = 0: a right Householder reflection A ← A − τ (A v) vᵀ (scale = −τ).
  (func (export "rowsReflect") (param $a i32) (param $ld i32) (param $rows i32) (param $width i32) (param $v i32) (param $scale f64)
    (local $t i32) (local $row i32) (local $d f64)
    (block $rowsDone (loop $rowsNext
      (br_if $rowsDone (i32.ge_s (local.get $t) (local.get $rows)))
      (local.set $row (i32.add (local.get $a) (i32.shl (i32.mul (local.get $t) (local.get $ld)) (i32.const 3))))
      (local.set $d (call $dotQuads (local.get $row) (local.get $v) (local.get $width)))
      (if (f64.ne (local.get $d) (f64.const 0))
        (then (call $axpyPairs (f64.mul (local.get $scale) (local.get $d)) (local.get $v) (local.get $row) (local.get $width))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $rowsNext))))

  ;; out[t] = scale·(a_t·x) for rows t < height (row t at a + 8·t·ld, `width` entries, $dotQuads):
  ;; the tridiagonalization's panel products Wᵀv and Vᵀv (scale = −1).
  (func (export "rowsDots") (param $a i32) (param $ld i32) (param $height i32) (param $width i32) (param $x i32) (param $scale f64) (param $out i32)
    (local $t i32)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $t) (local.get $height)))
      (f64.store (i32.add (local.get $out) (i32.shl (local.get $t) (i32.const 3)))
        (f64.mul (local.get $scale)
          (call $dotQuads (i32.add (local.get $a) (i32.shl (i32.mul (local.get $t) (local.get $ld)) (i32.const 3))) (local.get $x) (local.get $width))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $next))))

  ;; x·y over `length` entries with four partial sums over j mod 4 (the tail into the first), added
  ;; as s0 + s1 + (s2 + s3): tensor-core's dotProduct, the same value.
  (func $dotQuads (param $x i32) (param $y i32) (param $length i32) (result f64)
    (local $j i32) (local $p i32) (local $q i32) (local $low v128) (local $high v128) (local $s0 f64)
    (block $quadsDone (loop $quads
      (br_if $quadsDone (i32.ge_s (i32.add (local.get $j) (i32.const 3)) (local.get $length)))
      (local.set $p (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $q (i32.add (local.get $y) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $low (f64x2.add (local.get $low) (f64x2.mul (v128.load (local.get $p)) (v128.load (local.get $q)))))
      (local.set $high (f64x2.add (local.get $high) (f64x2.mul (v128.load offset=16 (local.get $p)) (v128.load offset=16 (local.get $q)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $quads)))
    (local.set $s0 (f64x2.extract_lane 0 (local.get $low)))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_s (local.get $j) (local.get $length)))
      (local.set $s0 (f64.add (local.get $s0)
        (f64.mul (f64.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))))
                 (f64.load (i32.add (local.get $y) (i32.shl (local.get $j) (i32.const 3)))))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $tail)))
    (f64.add (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $low)))
      (f64.add (f64x2.extract_lane 0 (local.get $high)) (f64x2.extract_lane 1 (local.get $high)))))

  ;; y[j] += alpha·x[j] for j < length, two at a time (each entry as tensor-core's axpy computes it).
  (func $axpyPairs (param $alpha f64) (param $x i32) (param $y i32) (param $length i32)
    (local $j i32) (local $alphas v128) (local $p i32)
    (local.set $alphas (f64x2.splat (local.get $alpha)))
    (block $done (loop $next
      (br_if $done (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $length)))
      (local.set $p (i32.add (local.get $y) (i32.shl (local.get $j) (i32.const 3))))
      (v128.store (local.get $p) (f64x2.add (v128.load (local.get $p))
        (f64x2.mul (local.get $alphas) (v128.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3)))))))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $next)))
    (if (i32.lt_s (local.get $j) (local.get $length))
      (then
        (local.set $p (i32.add (local.get $y) (i32.shl (local.get $j) (i32.const 3))))
        (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
          (f64.mul (local.get $alpha) (f64.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))))))))))

  ;; The blocked Cholesky's panel moves (cholesky.ts). gatherPanel: the rows of L below a diagonal
  ;; block, transposed for the panel solve: t[k·rows + r] = L_r[k] for r < rows, k < p, with L_r at
  ;; l + r·ls bytes (float64 entries, or float32 with $f32), t float64.
  (func (export "gatherPanel") (param $l i32) (param $ls i32) (param $rows i32) (param $p i32) (param $t i32) (param $f32 i32)
    (local $r i32) (local $k i32) (local $src i32) (local $dst i32) (local $step i32)
    (local.set $step (i32.shl (local.get $rows) (i32.const 3)))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $src (i32.add (local.get $l) (i32.mul (local.get $r) (local.get $ls))))
      (local.set $dst (i32.add (local.get $t) (i32.shl (local.get $r) (i32.const 3))))
      (local.set $k (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_s (local.get $k) (local.get $p)))
        (if (local.get $f32)
          (then (f64.store (local.get $dst) (f64.promote_f32 (f32.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))))))
          (else (f64.store (local.get $dst) (f64.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 3)))))))
        (local.set $dst (i32.add (local.get $dst) (local.get $step)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; scatterPanel: the solved panel back, L_r[k] = t[k·rows + r] (rounded to float32 with $f32), and
  ;; −t, the trailing update's right factor, into neg in t's layout (float64, or float32 with $f32;
  ;; for float64 neg may be t itself: each entry is read before it is overwritten).
  (func (export "scatterPanel") (param $t i32) (param $rows i32) (param $p i32) (param $l i32) (param $ls i32) (param $neg i32) (param $f32 i32)
    (local $r i32) (local $k i32) (local $dst i32) (local $at i32) (local $v f64)
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $dst (i32.add (local.get $l) (i32.mul (local.get $r) (local.get $ls))))
      (local.set $k (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_s (local.get $k) (local.get $p)))
        (local.set $at (i32.add (i32.mul (local.get $k) (local.get $rows)) (local.get $r)))
        (local.set $v (f64.load (i32.add (local.get $t) (i32.shl (local.get $at) (i32.const 3)))))
        (if (local.get $f32)
          (then
            (f32.store (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 2))) (f32.demote_f64 (local.get $v)))
            (f32.store (i32.add (local.get $neg) (i32.shl (local.get $at) (i32.const 2))) (f32.demote_f64 (f64.neg (local.get $v)))))
          (else
            (f64.store (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 3))) (local.get $v))
            (f64.store (i32.add (local.get $neg) (i32.shl (local.get $at) (i32.const 3))) (f64.neg (local.get $v)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; Four f16 bit patterns (the low 16 bits of each lane) as f32, exactly. By the magnitude bits m:
  ;; normal numbers get their exponent rebiased (m·2¹³ + 112·2²³, integer arithmetic), subnormals
  ;; and zeros are m·2⁻²⁴ (an exact float product of normal operands: no denormal arithmetic, which
  ;; costs a microcode assist per value on x86), the all-ones exponent (inf, NaN) maps to the f32
  ;; one; the sign is or-ed in. Signed compares and conversion (m < 2¹⁵): the unsigned ones take
  ;; several SSE instructions each.
  (func $halvesToSingles (param $x v128) (result v128)
    (local $m v128) (local $bits v128)
    (local.set $m (v128.and (local.get $x) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
    (local.set $bits (i32x4.shl (local.get $m) (i32.const 13)))
    (v128.or
      (i32x4.shl (v128.and (local.get $x) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))
      (v128.bitselect
        (f32x4.mul (f32x4.convert_i32x4_s (local.get $m)) (v128.const i32x4 0x33800000 0x33800000 0x33800000 0x33800000))
        (v128.bitselect
          (v128.or (local.get $bits) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
          (i32x4.add (local.get $bits) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
          (i32x4.gt_s (local.get $m) (v128.const i32x4 0x7bff 0x7bff 0x7bff 0x7bff)))
        (i32x4.lt_s (local.get $m) (v128.const i32x4 0x400 0x400 0x400 0x400)))))

  ;; dst[i] = the f16 bit pattern src[i] as an f32, exactly, for i < n (u16 at src, f32 at dst). dst
  ;; may be src − 2n, the output laid over the input's own lower half: values go front to back and
  ;; each eight are read before they are written, so no unread input is overwritten. Eight at a
  ;; time: when all eight are normal numbers (the usual case) only the rebiasing runs, else the
  ;; whole case analysis of $halvesToSingles; the last n mod 8 one by one.
  (func (export "f16ToF32") (param $src i32) (param $dst i32) (param $n i32)
    (local $i i32) (local $h v128) (local $m v128) (local $sign v128) (local $at i32)
    (block $blocksDone (loop $blocks
      (br_if $blocksDone (i32.gt_s (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
      (local.set $h (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
      (local.set $m (v128.and (local.get $h) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
      (local.set $at (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
      (if (v128.any_true (v128.or
            (i16x8.lt_s (local.get $m) (v128.const i16x8 0x400 0x400 0x400 0x400 0x400 0x400 0x400 0x400))
            (i16x8.gt_s (local.get $m) (v128.const i16x8 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff))))
        (then
          (v128.store (local.get $at) (call $halvesToSingles (i32x4.extend_low_i16x8_u (local.get $h))))
          (v128.store offset=16 (local.get $at) (call $halvesToSingles (i32x4.extend_high_i16x8_u (local.get $h)))))
        (else
          ;; all normal: m·2¹³ + 112·2²³ rebiases the exponent, the sign moves from bit 15 to 31
          ;; (written inline: a call here costs as much as the conversion)
          (local.set $sign (v128.and (local.get $h) (v128.const i16x8 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000)))
          (v128.store (local.get $at) (v128.or
            (i32x4.add (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $m)) (i32.const 13)) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
            (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $sign)) (i32.const 16))))
          (v128.store offset=16 (local.get $at) (v128.or
            (i32x4.add (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $m)) (i32.const 13)) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
            (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $sign)) (i32.const 16))))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $blocks)))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (v128.store32_lane 0 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (call $halvesToSingles (i32x4.splat (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; Rewrites one byte (its own value) every 4096 bytes of [at, at + bytes): the operating system's
  ;; first touch of those pages (the slow part of filling fresh memory), done ahead so threads can
  ;; share it; the contents stay as they were.
  (func (export "touchPages") (param $at i32) (param $bytes i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $at) (local.get $bytes)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (i32.store8 (local.get $at) (i32.load8_u (local.get $at)))
      (local.set $at (i32.add (local.get $at) (i32.const 4096)))
      (br $next))))

  ;; Sets [at, at + bytes) to the byte `value` at memset speed: a recycled arena's memory, poisoned
  ;; when disposed and zeroed when taken (a typed array's fill on a shared buffer stores value by
  ;; value, 4–17× slower).
  (func (export "fillBytes") (param $at i32) (param $value i32) (param $bytes i32)
    (memory.fill (local.get $at) (local.get $value) (local.get $bytes)))
)
