;; The CPU backend's attention loops over f32 queries, keys and values, in WebAssembly SIMD with
;; float64 arithmetic in attention.ts's order: a score sums even and odd channels in two lanes
;; (added at the end), and the output accumulates probability × value channel by channel, key
;; after key. Exponentials, masks and statistics stay in JavaScript. Byte addresses throughout.
(module
  (import "env" "memory" (memory 1))

  ;; out[j] (f64) = q·k_j for keys from ≤ j < to, k_j = k + 4·d·j: even channels in lane 0, odd in
  ;; lane 1 (an odd d's last channel in lane 0), then lane 0 + lane 1.
  (func (export "rowDots") (param $q i32) (param $k i32) (param $d i32) (param $from i32) (param $to i32) (param $out i32)
    (local $j i32) (local $c i32) (local $pairs i32) (local $row i32) (local $rowBytes i32) (local $s v128)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $pairs (i32.shl (i32.and (local.get $d) (i32.const -2)) (i32.const 2)))
    (local.set $j (local.get $from))
    (block $done (loop $keys
      (br_if $done (i32.ge_s (local.get $j) (local.get $to)))
      (local.set $row (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $rowBytes))))
      (local.set $s (v128.const f64x2 0 0))
      (local.set $c (i32.const 0))
      (block $pairsDone (loop $channels
        (br_if $pairsDone (i32.ge_s (local.get $c) (local.get $pairs)))
        (local.set $s (f64x2.add (local.get $s)
          (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $q) (local.get $c))))
                     (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $row) (local.get $c)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 8)))
        (br $channels)))
      (if (i32.lt_s (local.get $c) (local.get $rowBytes))
        (then
          (local.set $s (f64x2.add (local.get $s)
            (f64x2.mul (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $q) (local.get $c))))
                       (f64x2.promote_low_f32x4 (v128.load32_zero (i32.add (local.get $row) (local.get $c)))))))))
      (f64.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 3)))
        (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $keys))))

  ;; acc[c] (f64, dv channels) += p_t·v_{keys[t]}[c] for t < count in order, skipping p_t = 0;
  ;; p_t the f64 at probs + 8t, keys[t] the i32 at keys + 4t, v_j = v + 4·dv·j.
  (func (export "weightedRows") (param $v i32) (param $dv i32) (param $keys i32) (param $probs i32) (param $count i32) (param $acc i32)
    (local $t i32) (local $c i32) (local $pairs i32) (local $row i32) (local $rowBytes i32) (local $p f64) (local $pv v128) (local $at i32)
    (local.set $rowBytes (i32.shl (local.get $dv) (i32.const 2)))
    (local.set $pairs (i32.shl (i32.and (local.get $dv) (i32.const -2)) (i32.const 2)))
    (block $done (loop $terms
      (br_if $done (i32.ge_s (local.get $t) (local.get $count)))
      (local.set $p (f64.load (i32.add (local.get $probs) (i32.shl (local.get $t) (i32.const 3)))))
      (if (f64.ne (local.get $p) (f64.const 0))
        (then
          (local.set $row (i32.add (local.get $v)
            (i32.mul (i32.load (i32.add (local.get $keys) (i32.shl (local.get $t) (i32.const 2)))) (local.get $rowBytes))))
          (local.set $pv (f64x2.splat (local.get $p)))
          (local.set $c (i32.const 0))
          (block $pairsDone (loop $channels
            (br_if $pairsDone (i32.ge_s (local.get $c) (local.get $pairs)))
            ;; f64 accumulator pair for channels c/4, c/4 + 1: at acc + 2c bytes
            (local.set $at (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 1))))
            (v128.store (local.get $at) (f64x2.add (v128.load (local.get $at))
              (f64x2.mul (local.get $pv) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $row) (local.get $c)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))
            (br $channels)))
          (if (i32.lt_s (local.get $c) (local.get $rowBytes))
            (then
              (local.set $at (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 1))))
              (f64.store (local.get $at) (f64.add (f64.load (local.get $at))
                (f64.mul (local.get $p) (f64.promote_f32 (f32.load (i32.add (local.get $row) (local.get $c)))))))))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $terms)))))
