;; The fused KIVI decode's two loops in WebAssembly SIMD, reading packed codes instead of dequantized
;; rows. A key is code·scale + min per channel, a value code·scale + min per token and channel group,
;; so the scale and the minimum come out of the sums:
;;   q·k_u  = Σ_c (q_c·scale_c)·code_c,u + Σ_c q_c·min_c
;;   Σ_t p_t·v_t,c = Σ_t (p_t·scale_t,g)·code_t,c + Σ_t p_t·min_t,g
;; and the inner loops multiply codes, unpacked in registers, by one float each: four tokens (keys)
;; or four channels (values) per f32x4, the products summed in float32 (at most a tile's tokens or a
;; head's channels: a relative error near 1e-7, far inside what 2- to 8-bit codes change), the
;; minimums' sums and everything after in float64.
;;
;; Four consecutive codes (aligned to 4: they share a word whatever the width, 2, 4 or 8 bits) come
;; out of a word without a per-lane shift: a byte shuffle puts the byte holding lane j's code in
;; lane j (the same byte four times at 2 bits, two bytes twice at 4, four bytes at 8), and lane j's
;; mask leaves code_j·2^(bits·(j mod codes per byte)) there, at most 255. The sums run on those
;; scaled integers and are multiplied by the inverse powers of two at the end: exact, so the result
;; is that of multiplying every term.
;;
;; Two query rows per call share the unpacking (the caller passes one row twice for an odd count
;; and sends the second row's results to scratch). Byte addresses.
(module
  (import "env" "memory" (memory 1))

  ;; Byte shuffle indices for four codes starting at byte `byte` of a splatted word: lane j's low
  ;; byte is the byte holding code j, its other bytes an index past 15 (so they read zero).
  (func $laneBytes (param $bits i32) (param $byte i32) (result v128)
    (i8x16.add
      (select
        (v128.const i8x16 0 0x80 0x80 0x80 0 0x80 0x80 0x80 0 0x80 0x80 0x80 0 0x80 0x80 0x80)
        (select
          (v128.const i8x16 0 0x80 0x80 0x80 0 0x80 0x80 0x80 1 0x80 0x80 0x80 1 0x80 0x80 0x80)
          (v128.const i8x16 0 0x80 0x80 0x80 1 0x80 0x80 0x80 2 0x80 0x80 0x80 3 0x80 0x80 0x80)
          (i32.eq (local.get $bits) (i32.const 4)))
        (i32.eq (local.get $bits) (i32.const 2)))
      (i8x16.splat (local.get $byte))))

  ;; Lane j's mask: (2^bits − 1)·2^(bits·(j mod 8/bits)).
  (func $laneMasks (param $bits i32) (result v128)
    (select
      (v128.const i32x4 0x03 0x0c 0x30 0xc0)
      (select (v128.const i32x4 0x0f 0xf0 0x0f 0xf0) (v128.const i32x4 0xff 0xff 0xff 0xff) (i32.eq (local.get $bits) (i32.const 4)))
      (i32.eq (local.get $bits) (i32.const 2))))

  ;; Lane j's factor 2^(−bits·(j mod 8/bits)), which undoes the mask's scaling.
  (func $laneScales (param $bits i32) (result v128)
    (select
      (v128.const f32x4 1 0.25 0.0625 0.015625)
      (select (v128.const f32x4 1 0.0625 1 0.0625) (v128.const f32x4 1 1 1 1) (i32.eq (local.get $bits) (i32.const 4)))
      (i32.eq (local.get $bits) (i32.const 2))))

  ;; Key scores of two query rows against the tokens [first, first + 4·chunks) of one key group.
  ;; q0, q1: the rows (f64, d). scale, min: the group's per-channel f32 values. Channel c's codes
  ;; are the groupWords words at codes + 4·groupWords·c, token u at bits·(u mod 32/bits) of word
  ;; u/(32/bits); first is a multiple of 4. qs: scratch for 2·d f32. Scores go to out0, out1 (f64,
  ;; one per token from first).
  (func (export "keyScores2") (param $q0 i32) (param $q1 i32) (param $d i32) (param $scale i32) (param $min i32)
    (param $codes i32) (param $groupWords i32) (param $bits i32) (param $first i32) (param $chunks i32)
    (param $qs i32) (param $out0 i32) (param $out1 i32)
    (local $c i32) (local $k i32) (local $at i32) (local $s f64) (local $m f64) (local $x0 f64) (local $x1 f64)
    (local $bias0 v128) (local $bias1 v128) (local $sum0 f64) (local $sum1 f64) (local $mask v128) (local $factor v128) (local $bytes v128)
    (local $perWord i32) (local $token i32) (local $wordAt i32) (local $channelBytes i32) (local $qs1 i32)
    (local $x v128) (local $a0 v128) (local $a1 v128)
    (local.set $qs1 (i32.add (local.get $qs) (i32.shl (local.get $d) (i32.const 2))))
    (block $scaled (loop $channels
      (br_if $scaled (i32.ge_s (local.get $c) (local.get $d)))
      (local.set $at (i32.shl (local.get $c) (i32.const 2)))
      (local.set $s (f64.promote_f32 (f32.load (i32.add (local.get $scale) (local.get $at)))))
      (local.set $m (f64.promote_f32 (f32.load (i32.add (local.get $min) (local.get $at)))))
      (local.set $x0 (f64.load (i32.add (local.get $q0) (i32.shl (local.get $c) (i32.const 3)))))
      (local.set $x1 (f64.load (i32.add (local.get $q1) (i32.shl (local.get $c) (i32.const 3)))))
      (f32.store (i32.add (local.get $qs) (local.get $at)) (f32.demote_f64 (f64.mul (local.get $x0) (local.get $s))))
      (f32.store (i32.add (local.get $qs1) (local.get $at)) (f32.demote_f64 (f64.mul (local.get $x1) (local.get $s))))
      (local.set $sum0 (f64.add (local.get $sum0) (f64.mul (local.get $x0) (local.get $m))))
      (local.set $sum1 (f64.add (local.get $sum1) (f64.mul (local.get $x1) (local.get $m))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $channels)))
    (local.set $bias0 (f64x2.splat (local.get $sum0)))
    (local.set $bias1 (f64x2.splat (local.get $sum1)))
    (local.set $mask (call $laneMasks (local.get $bits)))
    (local.set $factor (call $laneScales (local.get $bits)))
    (local.set $perWord (i32.div_u (i32.const 32) (local.get $bits)))
    (local.set $channelBytes (i32.shl (local.get $groupWords) (i32.const 2)))
    (block $done (loop $tokens
      (br_if $done (i32.ge_s (local.get $k) (local.get $chunks)))
      (local.set $token (i32.add (local.get $first) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $wordAt (i32.add (local.get $codes) (i32.shl (i32.div_u (local.get $token) (local.get $perWord)) (i32.const 2))))
      ;; the byte of the word where these four codes start
      (local.set $bytes (call $laneBytes (local.get $bits)
        (i32.shr_u (i32.mul (local.get $bits) (i32.rem_u (local.get $token) (local.get $perWord))) (i32.const 3))))
      (local.set $a0 (v128.const f32x4 0 0 0 0))
      (local.set $a1 (v128.const f32x4 0 0 0 0))
      (local.set $at (i32.const 0))
      (local.set $c (i32.const 0))
      (block $summed (loop $codes
        (br_if $summed (i32.ge_s (local.get $c) (local.get $d)))
        (local.set $x (f32x4.convert_i32x4_s (v128.and (i8x16.swizzle (v128.load32_splat (local.get $wordAt)) (local.get $bytes)) (local.get $mask))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (i32.add (local.get $qs) (local.get $at))) (local.get $x))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat (i32.add (local.get $qs1) (local.get $at))) (local.get $x))))
        (local.set $wordAt (i32.add (local.get $wordAt) (local.get $channelBytes)))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $codes)))
      (local.set $a0 (f32x4.mul (local.get $a0) (local.get $factor)))
      (local.set $a1 (f32x4.mul (local.get $a1) (local.get $factor)))
      (local.set $at (i32.shl (local.get $k) (i32.const 5)))
      (v128.store (i32.add (local.get $out0) (local.get $at)) (f64x2.add (f64x2.promote_low_f32x4 (local.get $a0)) (local.get $bias0)))
      (v128.store offset=16 (i32.add (local.get $out0) (local.get $at))
        (f64x2.add (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a0) (local.get $a0))) (local.get $bias0)))
      (v128.store (i32.add (local.get $out1) (local.get $at)) (f64x2.add (f64x2.promote_low_f32x4 (local.get $a1)) (local.get $bias1)))
      (v128.store offset=16 (i32.add (local.get $out1) (local.get $at))
        (f64x2.add (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a1) (local.get $a1))) (local.get $bias1)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $tokens))))

  ;; acc_i[c] += Σ_t p_i[t]·v_t[c] for two rows i over count quantized value tokens. p0, p1: the
  ;; probabilities (f64, count). Token t's codes are the rowWords words at codes + 4·rowWords·t,
  ;; channel group g from word g·groupWords, channel j of the group at bits·(j mod 32/bits) of its
  ;; word j/(32/bits); scale, min: f32 at 4·(t·groups + g). groupSize is a multiple of 4.
  ;; w: scratch for 2·count f32. acc0, acc1: f64, groups·groupSize channels.
  (func (export "valueAccumulate2") (param $p0 i32) (param $p1 i32) (param $count i32) (param $codes i32) (param $rowWords i32)
    (param $groupWords i32) (param $scale i32) (param $min i32) (param $groups i32) (param $groupSize i32) (param $bits i32)
    (param $w i32) (param $acc0 i32) (param $acc1 i32)
    (local $g i32) (local $j i32) (local $t i32) (local $at i32) (local $s f64) (local $m f64) (local $x0 f64) (local $x1 f64)
    (local $sum0 f64) (local $sum1 f64) (local $bias0 v128) (local $bias1 v128) (local $mask v128) (local $factor v128) (local $bytes v128)
    (local $perWord i32) (local $wordAt i32) (local $rowBytes i32) (local $w1 i32) (local $out i32)
    (local $x v128) (local $a0 v128) (local $a1 v128)
    (local.set $w1 (i32.add (local.get $w) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $mask (call $laneMasks (local.get $bits)))
    (local.set $factor (call $laneScales (local.get $bits)))
    (local.set $perWord (i32.div_u (i32.const 32) (local.get $bits)))
    (local.set $rowBytes (i32.shl (local.get $rowWords) (i32.const 2)))
    (block $groupsDone (loop $groups
      (br_if $groupsDone (i32.ge_s (local.get $g) (local.get $groups)))
      ;; w_i[t] = p_i[t]·scale[t, g] (f32); bias_i = Σ_t p_i[t]·min[t, g] (f64)
      (local.set $sum0 (f64.const 0))
      (local.set $sum1 (f64.const 0))
      (local.set $t (i32.const 0))
      (block $weighted (loop $weights
        (br_if $weighted (i32.ge_s (local.get $t) (local.get $count)))
        (local.set $at (i32.shl (i32.add (i32.mul (local.get $t) (local.get $groups)) (local.get $g)) (i32.const 2)))
        (local.set $s (f64.promote_f32 (f32.load (i32.add (local.get $scale) (local.get $at)))))
        (local.set $m (f64.promote_f32 (f32.load (i32.add (local.get $min) (local.get $at)))))
        (local.set $x0 (f64.load (i32.add (local.get $p0) (i32.shl (local.get $t) (i32.const 3)))))
        (local.set $x1 (f64.load (i32.add (local.get $p1) (i32.shl (local.get $t) (i32.const 3)))))
        (local.set $at (i32.shl (local.get $t) (i32.const 2)))
        (f32.store (i32.add (local.get $w) (local.get $at)) (f32.demote_f64 (f64.mul (local.get $x0) (local.get $s))))
        (f32.store (i32.add (local.get $w1) (local.get $at)) (f32.demote_f64 (f64.mul (local.get $x1) (local.get $s))))
        (local.set $sum0 (f64.add (local.get $sum0) (f64.mul (local.get $x0) (local.get $m))))
        (local.set $sum1 (f64.add (local.get $sum1) (f64.mul (local.get $x1) (local.get $m))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $weights)))
      (local.set $bias0 (f64x2.splat (local.get $sum0)))
      (local.set $bias1 (f64x2.splat (local.get $sum1)))
      (local.set $j (i32.const 0))
      (block $channelsDone (loop $channels
        (br_if $channelsDone (i32.ge_s (local.get $j) (local.get $groupSize)))
        (local.set $wordAt (i32.add (local.get $codes)
          (i32.shl (i32.add (i32.mul (local.get $g) (local.get $groupWords)) (i32.div_u (local.get $j) (local.get $perWord))) (i32.const 2))))
        (local.set $bytes (call $laneBytes (local.get $bits)
          (i32.shr_u (i32.mul (local.get $bits) (i32.rem_u (local.get $j) (local.get $perWord))) (i32.const 3))))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $at (i32.const 0))
        (local.set $t (i32.const 0))
        (block $summed (loop $terms
          (br_if $summed (i32.ge_s (local.get $t) (local.get $count)))
          (local.set $x (f32x4.convert_i32x4_s (v128.and (i8x16.swizzle (v128.load32_splat (local.get $wordAt)) (local.get $bytes)) (local.get $mask))))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (i32.add (local.get $w) (local.get $at))) (local.get $x))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat (i32.add (local.get $w1) (local.get $at))) (local.get $x))))
          (local.set $wordAt (i32.add (local.get $wordAt) (local.get $rowBytes)))
          (local.set $at (i32.add (local.get $at) (i32.const 4)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $terms)))
        (local.set $a0 (f32x4.mul (local.get $a0) (local.get $factor)))
        (local.set $a1 (f32x4.mul (local.get $a1) (local.get $factor)))
        ;; channels g·groupSize + j … + 3 of both accumulator rows
        (local.set $out (i32.shl (i32.add (i32.mul (local.get $g) (local.get $groupSize)) (local.get $j)) (i32.const 3)))
        (local.set $at (i32.add (local.get $acc0) (local.get $out)))
        (v128.store (local.get $at) (f64x2.add (v128.load (local.get $at)) (f64x2.add (f64x2.promote_low_f32x4 (local.get $a0)) (local.get $bias0))))
        (v128.store offset=16 (local.get $at) (f64x2.add (v128.load offset=16 (local.get $at))
          (f64x2.add (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a0) (local.get $a0))) (local.get $bias0))))
        (local.set $at (i32.add (local.get $acc1) (local.get $out)))
        (v128.store (local.get $at) (f64x2.add (v128.load (local.get $at)) (f64x2.add (f64x2.promote_low_f32x4 (local.get $a1)) (local.get $bias1))))
        (v128.store offset=16 (local.get $at) (f64x2.add (v128.load offset=16 (local.get $at))
          (f64x2.add (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a1) (local.get $a1))) (local.get $bias1))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $channels)))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br $groups))))
)
