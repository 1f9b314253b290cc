;; KIVI's packed codes dequantized into the row kernel's tile (row-attention.wat, the same memory):
;; f32 rows `code · scale + min`, four channels a vector. tensor-core's packed layout: 32/bits codes
;; per u32 word, low bits first, each group's codes starting on a word. Byte addresses throughout;
;; scales and minimums are f32 (the caller converts f16 ones into the arena first).
(module
  (import "env" "memory" (memory 1))

  ;; Keys of one group (per channel): tokens u ∈ [u0, u1) of the group as rows of d f32 from `out`
  ;; (token u0's row first). Channel c's codes are the `words` words at codes + 4·words·c; its scale
  ;; and minimum are at scales + 4c, mins + 4c. d is a multiple of 4: the four channels' words for
  ;; token u are gathered once per word and shifted by the same amount.
  (func (export "kiviKeyRows") (param $codes i32) (param $words i32) (param $bits i32) (param $d i32) (param $scales i32) (param $mins i32)
    (param $u0 i32) (param $u1 i32) (param $out i32)
    (local $c i32) (local $u i32) (local $perWord i32) (local $stride i32) (local $at i32) (local $rowBytes i32) (local $word i32) (local $shift i32)
    (local $w v128) (local $mask v128) (local $scale v128) (local $min v128)
    (local.set $perWord (i32.div_u (i32.const 32) (local.get $bits)))
    (local.set $mask (i32x4.splat (i32.sub (i32.shl (i32.const 1) (local.get $bits)) (i32.const 1))))
    (local.set $stride (i32.shl (local.get $words) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $channelsDone (loop $channels
      (br_if $channelsDone (i32.ge_u (local.get $c) (local.get $d)))
      (local.set $scale (v128.load (i32.add (local.get $scales) (i32.shl (local.get $c) (i32.const 2)))))
      (local.set $min (v128.load (i32.add (local.get $mins) (i32.shl (local.get $c) (i32.const 2)))))
      ;; token u0's word and shift; then shift by bits per token, the next word after 32 bits (no division in the loops)
      (local.set $word (i32.add (i32.add (local.get $codes) (i32.mul (local.get $c) (local.get $stride)))
        (i32.shl (i32.div_u (local.get $u0) (local.get $perWord)) (i32.const 2))))
      (local.set $shift (i32.mul (i32.rem_u (local.get $u0) (local.get $perWord)) (local.get $bits)))
      (local.set $u (local.get $u0))
      (local.set $at (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
      (block $wordsDone (loop $words
        (br_if $wordsDone (i32.ge_u (local.get $u) (local.get $u1)))
        ;; channels c … c + 3's words holding token u, then the word's tokens (up to u1)
        (local.set $w (i32x4.splat (i32.load (local.get $word))))
        (local.set $w (i32x4.replace_lane 1 (local.get $w) (i32.load (i32.add (local.get $word) (local.get $stride)))))
        (local.set $w (i32x4.replace_lane 2 (local.get $w) (i32.load (i32.add (local.get $word) (i32.shl (local.get $stride) (i32.const 1))))))
        (local.set $w (i32x4.replace_lane 3 (local.get $w) (i32.load (i32.add (local.get $word) (i32.mul (local.get $stride) (i32.const 3))))))
        (loop $tokens
          (v128.store (local.get $at)
            (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (v128.and (i32x4.shr_u (local.get $w) (local.get $shift)) (local.get $mask))) (local.get $scale)) (local.get $min)))
          (local.set $shift (i32.add (local.get $shift) (local.get $bits)))
          (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
          (local.set $u (i32.add (local.get $u) (i32.const 1)))
          (br_if $tokens (i32.and (i32.lt_u (local.get $shift) (i32.const 32)) (i32.lt_u (local.get $u) (local.get $u1)))))
        (local.set $shift (i32.const 0))
        (local.set $word (i32.add (local.get $word) (i32.const 4)))
        (br $words)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $channels))))

  ;; Values of `count` tokens (per token, in groups of `group` channels, a multiple of 4) as rows of
  ;; d f32 at `out`. Token t's codes are the row at codes + 4·rowWords·t, group g's from word
  ;; g·groupWords; its scales and minimums are at scales + 4(t·groups + g), mins likewise. Four
  ;; channels 4j … 4j + 3 of a group share one byte (2-bit) or half-word (4-bit): it is loaded into
  ;; every lane, lane i keeps its own code (still shifted left by i·bits), and the scale for lane i
  ;; carries the 2^(−i·bits) that undoes the shift (exact: a power of two). At 8 bits the four bytes
  ;; are widened into the lanes. Codes stay below 2^31, so the signed conversion is exact (and
  ;; cheaper than the unsigned one on x86).
  (func (export "kiviValueRows") (param $codes i32) (param $rowWords i32) (param $groupWords i32) (param $group i32) (param $bits i32) (param $d i32)
    (param $scales i32) (param $mins i32) (param $count i32) (param $out i32)
    (local $t i32) (local $g i32) (local $j i32) (local $groups i32) (local $row i32) (local $base i32) (local $at i32) (local $byte i32)
    (local $x v128) (local $lanes v128) (local $undo v128) (local $scale v128) (local $min v128)
    (local.set $groups (i32.div_u (local.get $d) (local.get $group)))
    ;; 8-bit: the four bytes are widened to the lanes, nothing to mask or undo
    (local.set $lanes (v128.const i32x4 -1 -1 -1 -1))
    (local.set $undo (v128.const f32x4 1 1 1 1))
    (if (i32.eq (local.get $bits) (i32.const 4))
      (then
        (local.set $lanes (v128.const i32x4 0x000f 0x00f0 0x0f00 0xf000))
        (local.set $undo (v128.const f32x4 1 0x1p-4 0x1p-8 0x1p-12))))
    (if (i32.eq (local.get $bits) (i32.const 2))
      (then
        (local.set $lanes (v128.const i32x4 0x03 0x0c 0x30 0xc0))
        (local.set $undo (v128.const f32x4 1 0x1p-2 0x1p-4 0x1p-6))))
    (local.set $at (local.get $out))
    (block $tokensDone (loop $tokens
      (br_if $tokensDone (i32.ge_u (local.get $t) (local.get $count)))
      (local.set $row (i32.add (local.get $codes) (i32.mul (i32.mul (local.get $t) (local.get $rowWords)) (i32.const 4))))
      (local.set $g (i32.const 0))
      (block $groupsDone (loop $eachGroup
        (br_if $groupsDone (i32.ge_u (local.get $g) (local.get $groups)))
        (local.set $base (i32.add (local.get $row) (i32.shl (i32.mul (local.get $g) (local.get $groupWords)) (i32.const 2))))
        (local.set $scale (f32x4.mul (f32x4.splat (f32.load (local.get $scales))) (local.get $undo)))
        (local.set $min (f32x4.splat (f32.load (local.get $mins))))
        (local.set $j (i32.const 0))
        (local.set $byte (local.get $base))
        (block $channelsDone (loop $channels
          (br_if $channelsDone (i32.ge_u (local.get $j) (local.get $group)))
          (if (i32.eq (local.get $bits) (i32.const 2))
            (then (local.set $x (v128.load8_splat (local.get $byte))))
            (else (if (i32.eq (local.get $bits) (i32.const 4))
              (then (local.set $x (v128.load16_splat (local.get $byte))))
              (else (local.set $x (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $byte)))))))))
          (v128.store (local.get $at)
            (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (v128.and (local.get $x) (local.get $lanes))) (local.get $scale)) (local.get $min)))
          (local.set $at (i32.add (local.get $at) (i32.const 16)))
          ;; a group's codes are contiguous, low bits first: four channels are bits / 2 bytes on
          (local.set $byte (i32.add (local.get $byte) (i32.shr_u (local.get $bits) (i32.const 1))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $channels)))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $mins (i32.add (local.get $mins) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $eachGroup)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tokens)))))
