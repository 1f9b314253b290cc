;; One tile of keys and values folded into the online-softmax state of each query row, in float32
;; SIMD: scores, mask, the row's new maximum, exp, sum and the probability-weighted values in one
;; call, so nothing goes back to JavaScript between them (row-attention.ts drives it).
;;
;; Byte addresses throughout. Query rows are d f32 (d a multiple of 4), `4d` bytes apart; the tile's
;; keys are rows of d f32, at least `keys` of them (count rounded up to 4; rows past count may hold
;; anything: their scores are masked); values are `count` rows of dv f32 (dv a multiple of 4). A row's
;; state is float64 [max, sum, acc[dv]], `8(2 + dv)` bytes apart; row r's class and query position
;; are the i32 pair at info + 8r (0: it sees no key of the tile, 1: every key, 2: test each key's
;; position). Products and sums within the tile are float32; the state stays float64.
;; `rowStatistics`, at the end, is the statistics pass over a staged tile (per-key sums and maxima of
;; the probabilities, given each row's final state), with the same scores and exponentials.
(module
  (import "env" "memory" (memory 1))

  ;; Lane 0 + lane 1 + lane 2 + lane 3, as (0 + 2) + (1 + 3).
  (func $sum4 (param $x v128) (result f32)
    (local.set $x (f32x4.add (local.get $x) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
    (f32.add (f32x4.extract_lane 0 (local.get $x)) (f32x4.extract_lane 1 (local.get $x))))

  ;; p[t] = q · k_t (+ its log weight) for t < keys, −∞ where the key is hidden (t ≥ count, or a
  ;; partial row's mask); returns their maximum (NaN when a visible score is NaN). Four keys at a
  ;; time: four accumulators over the channels, then their lanes summed side by side.
  (func $scores (param $q i32) (param $d i32) (param $k i32) (param $keys i32) (param $count i32) (param $partial i32) (param $qp i32)
    (param $kpos i32) (param $causal i32) (param $window i32) (param $lw i32) (param $p i32) (result f32)
    (local $t i32) (local $c i32) (local $rowBytes i32) (local $k1 i32) (local $k2 i32) (local $k3 i32)
    (local $qv v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $u v128) (local $w v128)
    (local $s v128) (local $max v128) (local $visible v128) (local $kp v128) (local $x v128)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $max (v128.const f32x4 -inf -inf -inf -inf))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $t) (local.get $keys)))
      (local.set $k1 (i32.add (local.get $k) (local.get $rowBytes)))
      (local.set $k2 (i32.add (local.get $k1) (local.get $rowBytes)))
      (local.set $k3 (i32.add (local.get $k2) (local.get $rowBytes)))
      (local.set $a0 (v128.const f32x4 0 0 0 0))
      (local.set $a1 (v128.const f32x4 0 0 0 0))
      (local.set $a2 (v128.const f32x4 0 0 0 0))
      (local.set $a3 (v128.const f32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $channelsDone (loop $channels
        (br_if $channelsDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
        (local.set $qv (v128.load (i32.add (local.get $q) (local.get $c))))
        (local.set $x (v128.load (i32.add (local.get $k) (local.get $c))))
        (local.set $a0 (f32x4.relaxed_madd (local.get $qv) (local.get $x) (local.get $a0)))
        (local.set $x (v128.load (i32.add (local.get $k1) (local.get $c))))
        (local.set $a1 (f32x4.relaxed_madd (local.get $qv) (local.get $x) (local.get $a1)))
        (local.set $x (v128.load (i32.add (local.get $k2) (local.get $c))))
        (local.set $a2 (f32x4.relaxed_madd (local.get $qv) (local.get $x) (local.get $a2)))
        (local.set $x (v128.load (i32.add (local.get $k3) (local.get $c))))
        (local.set $a3 (f32x4.relaxed_madd (local.get $qv) (local.get $x) (local.get $a3)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $channels)))
      ;; u = [a0₀+a0₂, a1₀+a1₂, a0₁+a0₃, a1₁+a1₃], w likewise for a2, a3; then s_i = Σ lanes of a_i
      (local.set $u (f32x4.add
        (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1))
        (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1))))
      (local.set $w (f32x4.add
        (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3))
        (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3))))
      (local.set $s (f32x4.add
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u) (local.get $w))
        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u) (local.get $w))))
      (if (local.get $lw)
        (then (local.set $s (f32x4.add (local.get $s) (v128.load (i32.add (local.get $lw) (i32.shl (local.get $t) (i32.const 2))))))))
      (local.set $visible (i32x4.lt_s (i32x4.add (i32x4.splat (local.get $t)) (v128.const i32x4 0 1 2 3)) (i32x4.splat (local.get $count))))
      (if (local.get $partial)
        (then
          (local.set $kp (v128.load (i32.add (local.get $kpos) (i32.shl (local.get $t) (i32.const 2)))))
          (if (local.get $causal)
            (then (local.set $visible (v128.and (local.get $visible) (i32x4.le_s (local.get $kp) (i32x4.splat (local.get $qp)))))))
          (if (local.get $window)
            (then (local.set $visible (v128.and (local.get $visible)
              (i32x4.lt_s (i32x4.sub (i32x4.splat (local.get $qp)) (local.get $kp)) (i32x4.splat (local.get $window)))))))))
      (local.set $s (v128.bitselect (local.get $s) (v128.const f32x4 -inf -inf -inf -inf) (local.get $visible)))
      (v128.store (i32.add (local.get $p) (i32.shl (local.get $t) (i32.const 2))) (local.get $s))
      (local.set $max (f32x4.max (local.get $max) (local.get $s)))
      (local.set $k (i32.add (local.get $k3) (local.get $rowBytes)))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br $blocks)))
    (local.set $max (f32x4.max (local.get $max) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $max) (local.get $max))))
    (f32.max (f32x4.extract_lane 0 (local.get $max)) (f32x4.extract_lane 1 (local.get $max))))

  ;; acc[c … c + 32) = acc·α + Σ_t p[t] · v_t[c … c + 32) for t < count (eight float32 vectors held
  ;; across the tile, then added to the float64 accumulators).
  (func $values32 (param $p i32) (param $v i32) (param $rowBytes i32) (param $count i32) (param $acc i32) (param $alpha v128)
    (local $t i32) (local $w v128) (local $x v128) (local $row i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $r4 v128) (local $r5 v128) (local $r6 v128) (local $r7 v128)
    (local.set $row (local.get $v))
    (block $done (loop $keys
      (br_if $done (i32.ge_u (local.get $t) (local.get $count)))
      (local.set $w (v128.load32_splat (i32.add (local.get $p) (i32.shl (local.get $t) (i32.const 2)))))
      (local.set $x (v128.load (local.get $row)))
      (local.set $r0 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r0)))
      (local.set $x (v128.load offset=16 (local.get $row)))
      (local.set $r1 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r1)))
      (local.set $x (v128.load offset=32 (local.get $row)))
      (local.set $r2 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r2)))
      (local.set $x (v128.load offset=48 (local.get $row)))
      (local.set $r3 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r3)))
      (local.set $x (v128.load offset=64 (local.get $row)))
      (local.set $r4 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r4)))
      (local.set $x (v128.load offset=80 (local.get $row)))
      (local.set $r5 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r5)))
      (local.set $x (v128.load offset=96 (local.get $row)))
      (local.set $r6 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r6)))
      (local.set $x (v128.load offset=112 (local.get $row)))
      (local.set $r7 (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r7)))
      (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $keys)))
    (call $addScaled (local.get $acc) (local.get $alpha) (local.get $r0))
    (call $addScaled (i32.add (local.get $acc) (i32.const 32)) (local.get $alpha) (local.get $r1))
    (call $addScaled (i32.add (local.get $acc) (i32.const 64)) (local.get $alpha) (local.get $r2))
    (call $addScaled (i32.add (local.get $acc) (i32.const 96)) (local.get $alpha) (local.get $r3))
    (call $addScaled (i32.add (local.get $acc) (i32.const 128)) (local.get $alpha) (local.get $r4))
    (call $addScaled (i32.add (local.get $acc) (i32.const 160)) (local.get $alpha) (local.get $r5))
    (call $addScaled (i32.add (local.get $acc) (i32.const 192)) (local.get $alpha) (local.get $r6))
    (call $addScaled (i32.add (local.get $acc) (i32.const 224)) (local.get $alpha) (local.get $r7)))

  ;; The same for four channels.
  (func $values4 (param $p i32) (param $v i32) (param $rowBytes i32) (param $count i32) (param $acc i32) (param $alpha v128)
    (local $t i32) (local $row i32) (local $r v128) (local $w v128) (local $x v128)
    (local.set $row (local.get $v))
    (block $done (loop $keys
      (br_if $done (i32.ge_u (local.get $t) (local.get $count)))
      (local.set $w (v128.load32_splat (i32.add (local.get $p) (i32.shl (local.get $t) (i32.const 2)))))
      (local.set $x (v128.load (local.get $row)))
      (local.set $r (f32x4.relaxed_madd (local.get $w) (local.get $x) (local.get $r)))
      (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $keys)))
    (call $addScaled (local.get $acc) (local.get $alpha) (local.get $r)))

  ;; Four float64 accumulators at acc: acc·α + x (x's f32 lanes widened exactly).
  (func $addScaled (param $acc i32) (param $alpha v128) (param $x v128)
    (v128.store (local.get $acc) (f64x2.add (f64x2.mul (v128.load (local.get $acc)) (local.get $alpha)) (f64x2.promote_low_f32x4 (local.get $x))))
    (v128.store offset=16 (local.get $acc) (f64x2.add (f64x2.mul (v128.load offset=16 (local.get $acc)) (local.get $alpha))
      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))))

  ;; p[t] = e^(p[t] − shift) for t < n (a multiple of 4); returns their sum. e^x is Cephes's expf on
  ;; four lanes (x = k·ln 2 + r, a degree-6 polynomial in r, then 2^k in the exponent bits; about 1
  ;; ulp); below −87 (−∞ included) it gives 0, NaN stays NaN. Written once, inside the loop: V8 does
  ;; not inline calls between WebAssembly functions.
  (func $expShifted (param $p i32) (param $n i32) (param $shift v128) (result f32)
    (local $t i32) (local $e v128) (local $ec v128) (local $k v128) (local $r v128) (local $q v128) (local $x v128) (local $sum v128)
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $t) (local.get $n)))
      (local.set $e (f32x4.sub (v128.load (i32.add (local.get $p) (i32.shl (local.get $t) (i32.const 2)))) (local.get $shift)))
      (local.set $ec (f32x4.min (f32x4.max (local.get $e) (v128.const f32x4 -87 -87 -87 -87)) (v128.const f32x4 88 88 88 88)))
      (local.set $k (f32x4.nearest (f32x4.mul (local.get $ec) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
      (local.set $r (f32x4.sub (f32x4.sub (local.get $ec) (f32x4.mul (local.get $k) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
        (f32x4.mul (local.get $k) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
      (local.set $q (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r))
        (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
      (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
      (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
      (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
      (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
      (local.set $q (f32x4.add (f32x4.add (f32x4.mul (local.get $q) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r)) (v128.const f32x4 1 1 1 1)))
      (local.set $q (f32x4.mul (local.get $q) (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $k)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
      (local.set $x (v128.andnot (local.get $q) (f32x4.lt (local.get $e) (v128.const f32x4 -87 -87 -87 -87))))
      (v128.store (i32.add (local.get $p) (i32.shl (local.get $t) (i32.const 2))) (local.get $x))
      (local.set $sum (f32x4.add (local.get $sum) (local.get $x)))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br $blocks)))
    (call $sum4 (local.get $sum)))

  ;; Folds one row's scored tile (p[t], t < keys, tile maximum `tileMax`) into its state at st: the
  ;; new maximum (the tile's when it is NaN or larger, as tile-loop.ts's rule), α = e^(old − new)
  ;; where the state held mass, p[t] = e^(s_t − max), then sum and accumulators.
  (func $fold (param $p i32) (param $keys i32) (param $count i32) (param $tileMax f32) (param $v i32) (param $dv i32) (param $st i32)
    (local $old f64) (local $m f64) (local $alpha f64) (local $tileSum f32) (local $c i32) (local $rowBytes i32) (local $alphaV v128)
    (if (f32.eq (local.get $tileMax) (f32.const -inf)) (then (return)))
    (local.set $old (f64.load (local.get $st)))
    (local.set $m (local.get $old))
    (if (i32.or (f32.ne (local.get $tileMax) (local.get $tileMax)) (f64.gt (f64.promote_f32 (local.get $tileMax)) (local.get $old)))
      (then (local.set $m (f64.promote_f32 (local.get $tileMax)))))
    (local.set $alpha (f64.const 1))
    (if (i32.and (f64.ne (local.get $m) (local.get $old)) (i32.and (f64.ne (local.get $old) (f64.const -inf)) (f64.ne (f64.load offset=8 (local.get $st)) (f64.const 0))))
      (then
        ;; e^(old − new) by the same code, on four copies in the scratch after the tile's p
        (v128.store (i32.add (local.get $p) (i32.shl (local.get $keys) (i32.const 2))) (f32x4.splat (f32.demote_f64 (f64.sub (local.get $old) (local.get $m)))))
        (drop (call $expShifted (i32.add (local.get $p) (i32.shl (local.get $keys) (i32.const 2))) (i32.const 4) (v128.const f32x4 0 0 0 0)))
        (local.set $alpha (f64.promote_f32 (f32.load (i32.add (local.get $p) (i32.shl (local.get $keys) (i32.const 2))))))))
    (f64.store (local.get $st) (local.get $m))
    (local.set $tileSum (call $expShifted (local.get $p) (local.get $keys) (f32x4.splat (f32.demote_f64 (local.get $m)))))
    (f64.store offset=8 (local.get $st) (f64.add (f64.mul (f64.load offset=8 (local.get $st)) (local.get $alpha)) (f64.promote_f32 (local.get $tileSum))))
    (local.set $alphaV (f64x2.splat (local.get $alpha)))
    (local.set $rowBytes (i32.shl (local.get $dv) (i32.const 2)))
    (block $wideDone (loop $wide
      (br_if $wideDone (i32.gt_u (i32.add (local.get $c) (i32.const 32)) (local.get $dv)))
      (call $values32 (local.get $p) (i32.add (local.get $v) (i32.shl (local.get $c) (i32.const 2))) (local.get $rowBytes) (local.get $count)
        (i32.add (local.get $st) (i32.shl (i32.add (local.get $c) (i32.const 2)) (i32.const 3))) (local.get $alphaV))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (br $wide)))
    (block $narrowDone (loop $narrow
      (br_if $narrowDone (i32.ge_u (local.get $c) (local.get $dv)))
      (call $values4 (local.get $p) (i32.add (local.get $v) (i32.shl (local.get $c) (i32.const 2))) (local.get $rowBytes) (local.get $count)
        (i32.add (local.get $st) (i32.shl (i32.add (local.get $c) (i32.const 2)) (i32.const 3))) (local.get $alphaV))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $narrow))))

  ;; Every row r < rows whose class (at info + 8r) is not 0: score the tile (keys = count rounded up
  ;; to 4) into p, then fold it into the row's state. p is scratch for one row at a time (keys + 4 f32).
  (func (export "attendRows") (param $rows i32) (param $q i32) (param $d i32) (param $info i32) (param $k i32) (param $count i32)
    (param $v i32) (param $dv i32) (param $kpos i32) (param $causal i32) (param $window i32) (param $lw i32) (param $p i32) (param $state i32)
    (local $r i32) (local $class i32) (local $keys i32) (local $max f32)
    (local.set $keys (i32.and (i32.add (local.get $count) (i32.const 3)) (i32.const -4)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $class (i32.load (local.get $info)))
      (if (local.get $class)
        (then
          (local.set $max (call $scores (local.get $q) (local.get $d) (local.get $k) (local.get $keys) (local.get $count)
            (i32.eq (local.get $class) (i32.const 2)) (i32.load offset=4 (local.get $info))
            (local.get $kpos) (local.get $causal) (local.get $window) (local.get $lw) (local.get $p)))
          (call $fold (local.get $p) (local.get $keys) (local.get $count) (local.get $max) (local.get $v) (local.get $dv) (local.get $state))))
      (local.set $q (i32.add (local.get $q) (i32.shl (local.get $d) (i32.const 2))))
      (local.set $info (i32.add (local.get $info) (i32.const 8)))
      (local.set $state (i32.add (local.get $state) (i32.shl (i32.add (local.get $dv) (i32.const 2)) (i32.const 3))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $each))))

  ;; The statistics pass over one staged tile, for every row r < rows whose class is not 0, given its
  ;; final max and sum from pass 1 (state, float64 [max, sum] 16 bytes apart): p_t = e^(s_t − max) / sum,
  ;; and into its head's slot (per row at rowStats + 16r: f64 weight, i32 slot, i32 whether it returns
  ;; its probabilities) sums[t] += weight · p_t and maxes[t] = p_t where larger (a NaN p changes no
  ;; maximum), both float64 [slot][keys]; rows that return probabilities write them to probs [r][keys].
  (func (export "rowStatistics") (param $rows i32) (param $q i32) (param $d i32) (param $info i32) (param $k i32) (param $count i32)
    (param $kpos i32) (param $causal i32) (param $window i32) (param $lw i32) (param $p i32) (param $state i32)
    (param $rowStats i32) (param $sums i32) (param $maxes i32) (param $probs i32)
    (local $r i32) (local $class i32) (local $keys i32) (local $t i32) (local $rowBytes i32) (local $sumRow i32) (local $maxRow i32)
    (local $probRow i32) (local $wants i32) (local $inv v128) (local $w v128) (local $x v128) (local $at i32)
    (local.set $keys (i32.and (i32.add (local.get $count) (i32.const 3)) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $keys) (i32.const 3)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $class (i32.load (local.get $info)))
      (if (local.get $class)
        (then
          (drop (call $scores (local.get $q) (local.get $d) (local.get $k) (local.get $keys) (local.get $count)
            (i32.eq (local.get $class) (i32.const 2)) (i32.load offset=4 (local.get $info))
            (local.get $kpos) (local.get $causal) (local.get $window) (local.get $lw) (local.get $p)))
          (drop (call $expShifted (local.get $p) (local.get $keys) (f32x4.splat (f32.demote_f64 (f64.load (local.get $state))))))
          (local.set $inv (f64x2.splat (f64.div (f64.const 1) (f64.load offset=8 (local.get $state)))))
          (local.set $w (f64x2.splat (f64.load (local.get $rowStats))))
          (local.set $sumRow (i32.add (local.get $sums) (i32.mul (i32.load offset=8 (local.get $rowStats)) (local.get $rowBytes))))
          (local.set $maxRow (i32.add (local.get $maxes) (i32.mul (i32.load offset=8 (local.get $rowStats)) (local.get $rowBytes))))
          (local.set $wants (i32.load offset=12 (local.get $rowStats)))
          (local.set $probRow (i32.add (local.get $probs) (i32.mul (local.get $r) (local.get $rowBytes))))
          ;; two keys at a time (keys is a multiple of 4; past count p is 0)
          (local.set $t (i32.const 0))
          (block $keysDone (loop $pairs
            (br_if $keysDone (i32.ge_u (local.get $t) (local.get $count)))
            (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (i32.shl (local.get $t) (i32.const 2))))) (local.get $inv)))
            (local.set $at (i32.shl (local.get $t) (i32.const 3)))
            (v128.store (i32.add (local.get $sumRow) (local.get $at))
              (f64x2.add (v128.load (i32.add (local.get $sumRow) (local.get $at))) (f64x2.mul (local.get $w) (local.get $x))))
            (v128.store (i32.add (local.get $maxRow) (local.get $at)) (f64x2.pmax (v128.load (i32.add (local.get $maxRow) (local.get $at))) (local.get $x)))
            (if (local.get $wants) (then (v128.store (i32.add (local.get $probRow) (local.get $at)) (local.get $x))))
            (local.set $t (i32.add (local.get $t) (i32.const 2)))
            (br $pairs)))))
      (local.set $q (i32.add (local.get $q) (i32.shl (local.get $d) (i32.const 2))))
      (local.set $info (i32.add (local.get $info) (i32.const 8)))
      (local.set $state (i32.add (local.get $state) (i32.const 16)))
      (local.set $rowStats (i32.add (local.get $rowStats) (i32.const 16)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $each)))))
