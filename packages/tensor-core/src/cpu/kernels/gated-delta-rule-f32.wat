;; Gated DeltaNet's recurrence (tensor-core's `gatedDeltaRule`) for the CPU backend in WebAssembly
;; SIMD, four value columns at a time, in f32 like the GPU kernels. Per head h and row t, with S the
;; head's [dk, dv] state:
;;   S ← decay · S and recalled = Sᵀk      (one pass over S)
;;   δ = β · (v − recalled)
;;   S ← S + k ⊗ δ and o = Sᵀq             (a second pass)
;; Loops run head, then row, so a head's state stays in the L2 cache over a prefill chunk's rows.
(module
  (import "env" "memory" (memory 1))

  ;; Heads h0 ≤ h < h1. Byte addresses: q and k [n, keyHeads, dk], v and out [n, heads, dv], decays
  ;; (exp of the log decays) and beta [n, heads], state [heads, dk, dv], and two scratch rows of dv
  ;; floats (`rows`: recalled/δ, then the output's sums); all f32, dv a multiple of 4.
  (func (export "gatedDeltaRuleF32")
    (param $q i32) (param $k i32) (param $v i32) (param $decays i32) (param $beta i32) (param $state i32) (param $out i32)
    (param $rows i32) (param $n i32) (param $keyHeads i32) (param $heads i32) (param $dk i32) (param $dv i32) (param $h0 i32)
    (local $h i32) (local $t i32) (local $i i32) (local $j i32) (local $rowBytes i32) (local $head i32) (local $row i32)
    (local $key i32) (local $th i32) (local $perKey i32) (local $sums i32)
    (local $decay v128) (local $rate v128) (local $ki v128) (local $qi v128) (local $s v128)
    (local.set $rowBytes (i32.shl (local.get $dv) (i32.const 2)))
    (local.set $perKey (i32.div_u (local.get $heads) (local.get $keyHeads)))
    (local.set $sums (i32.add (local.get $rows) (local.get $rowBytes)))
    (local.set $h (local.get $h0))
    (block $headsDone (loop $eachHead
      (br_if $headsDone (i32.ge_u (local.get $h) (local.get $heads)))
      (local.set $head (i32.add (local.get $state) (i32.mul (i32.mul (local.get $h) (local.get $dk)) (local.get $rowBytes))))
      (local.set $t (i32.const 0))
      (block $rowsDone (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $t) (local.get $n)))
        (local.set $th (i32.add (i32.mul (local.get $t) (local.get $heads)) (local.get $h)))
        (local.set $decay (v128.load32_splat (i32.add (local.get $decays) (i32.shl (local.get $th) (i32.const 2)))))
        (local.set $rate (v128.load32_splat (i32.add (local.get $beta) (i32.shl (local.get $th) (i32.const 2)))))
        ;; k and q of the key head at byte ((t·keyHeads + h / perKey)·dk)·4
        (local.set $key (i32.shl (i32.mul (i32.add (i32.mul (local.get $t) (local.get $keyHeads)) (i32.div_u (local.get $h) (local.get $perKey))) (local.get $dk)) (i32.const 2)))
        ;; pass 1: decay the state, recalled = Sᵀk (in the first scratch row)
        (memory.fill (local.get $rows) (i32.const 0) (local.get $rowBytes))
        (local.set $i (i32.const 0))
        (block $decayDone (loop $decayRows
          (br_if $decayDone (i32.ge_u (local.get $i) (local.get $dk)))
          (local.set $row (i32.add (local.get $head) (i32.mul (local.get $i) (local.get $rowBytes))))
          (local.set $ki (v128.load32_splat (i32.add (i32.add (local.get $k) (local.get $key)) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $j (i32.const 0))
          (block $quadsDone (loop $quads
            (br_if $quadsDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $s (f32x4.mul (local.get $decay) (v128.load (i32.add (local.get $row) (local.get $j)))))
            (v128.store (i32.add (local.get $row) (local.get $j)) (local.get $s))
            (v128.store (i32.add (local.get $rows) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $rows) (local.get $j))) (f32x4.mul (local.get $s) (local.get $ki))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $quads)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $decayRows)))
        ;; δ = β · (v − recalled), in place of recalled
        (local.set $j (i32.const 0))
        (block $deltaDone (loop $delta
          (br_if $deltaDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
          (v128.store (i32.add (local.get $rows) (local.get $j))
            (f32x4.mul (local.get $rate)
              (f32x4.sub (v128.load (i32.add (i32.add (local.get $v) (i32.mul (local.get $th) (local.get $rowBytes))) (local.get $j)))
                (v128.load (i32.add (local.get $rows) (local.get $j))))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $delta)))
        ;; pass 2: S ← S + k ⊗ δ, o = Sᵀq (in the second scratch row)
        (memory.fill (local.get $sums) (i32.const 0) (local.get $rowBytes))
        (local.set $i (i32.const 0))
        (block $updateDone (loop $updateRows
          (br_if $updateDone (i32.ge_u (local.get $i) (local.get $dk)))
          (local.set $row (i32.add (local.get $head) (i32.mul (local.get $i) (local.get $rowBytes))))
          (local.set $ki (v128.load32_splat (i32.add (i32.add (local.get $k) (local.get $key)) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $qi (v128.load32_splat (i32.add (i32.add (local.get $q) (local.get $key)) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $j (i32.const 0))
          (block $quadsDone2 (loop $quads2
            (br_if $quadsDone2 (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $s (f32x4.add (v128.load (i32.add (local.get $row) (local.get $j)))
              (f32x4.mul (local.get $ki) (v128.load (i32.add (local.get $rows) (local.get $j))))))
            (v128.store (i32.add (local.get $row) (local.get $j)) (local.get $s))
            (v128.store (i32.add (local.get $sums) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $sums) (local.get $j))) (f32x4.mul (local.get $s) (local.get $qi))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $quads2)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $updateRows)))
        (memory.copy (i32.add (local.get $out) (i32.mul (local.get $th) (local.get $rowBytes))) (local.get $sums) (local.get $rowBytes))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $eachRow)))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $eachHead)))
  )
)
