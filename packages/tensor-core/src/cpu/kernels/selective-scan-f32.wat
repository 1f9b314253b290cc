;; Mamba's selective scan (tensor-core's `selectiveScan`) for the CPU backend in WebAssembly SIMD,
;; four state entries at a time, in f32 like the GPU kernels:
;;   S[h, p, :] = decay[t, h, :] · S[h, p, :] + (step[t, h] · x[t, h, p]) · b[t, g, :]
;;   y[t, h, p] = Σ_s S[h, p, s] · c[t, g, s]
;; Mamba-2's decay is one per head and row, given (decays[t, h]); Mamba-1's is one per state entry,
;; exp(step[t, h] · rates[h, s]), computed here (`exp4`) since JavaScript's exp per entry would cost
;; more than the scan.
;; Loops run head, channel, then row, so one channel's state row (dState floats) stays in the L1
;; cache over all the rows of a prefill chunk; a decode step (one row) reads each row once. Two
;; channels go together, sharing each quad of b and c (two loads instead of four per pair).
(module
  (import "env" "memory" (memory 1))

  ;; e^x in four lanes, x ≤ 88 (a decay's exponent is ≤ 0): 2^(x·log2 e) as 2^n · 2^f with n the
  ;; nearest integer (at least −126: smaller results flush to ≈ 1e-38) and f in [−½, ½], 2^f by its
  ;; degree-6 Taylor polynomial in f·ln 2 (relative error ≈ 1e-7, f32's rounding).
  (func $exp4 (param $x v128) (result v128)
    (local $y v128) (local $n v128) (local $f v128) (local $p v128)
    (local.set $y (f32x4.max (f32x4.min (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.4426950408889634)))
      (f32x4.splat (f32.const 127))) (f32x4.splat (f32.const -126))))
    (local.set $n (f32x4.nearest (local.get $y)))
    (local.set $f (f32x4.sub (local.get $y) (local.get $n)))
    (local.set $p (f32x4.splat (f32.const 0.00015403530393381606)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.0013333558146428443))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.009618129107628477))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.05550410866482158))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.2402265069591007))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.6931471805599453))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 1))))
    ;; 2^n: n + 127 in the exponent bits
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  ;; Heads h0 ≤ h < h1 (a thread's part). Byte addresses: x and y [n, heads, headDim], steps and
  ;; decays [n, heads], b and c [n, groups, dState], state [heads, headDim, dState], all f32;
  ;; dState a multiple of 4 and groups dividing heads. With $rates (≠ 0: Mamba-1's [heads, dState]
  ;; rates) the decays are exp(step · rate) per state entry and $decays is not read.
  (func (export "selectiveScanF32")
    (param $x i32) (param $steps i32) (param $decays i32) (param $b i32) (param $c i32) (param $state i32) (param $y i32)
    (param $n i32) (param $heads i32) (param $headDim i32) (param $groups i32) (param $dState i32) (param $h0 i32) (param $h1 i32)
    (param $rates i32)
    (local $h i32) (local $p i32) (local $t i32) (local $s i32) (local $rowBytes i32) (local $perGroup i32)
    (local $row0 i32) (local $row1 i32) (local $pair i32) (local $bc i32) (local $th i32) (local $xy i32)
    (local $decay v128) (local $drive0 v128) (local $drive1 v128) (local $step f32) (local $headRates i32)
    (local $s0 v128) (local $s1 v128) (local $bq v128) (local $cq v128) (local $acc0 v128) (local $acc1 v128)
    (local.set $rowBytes (i32.shl (local.get $dState) (i32.const 2)))
    (local.set $perGroup (i32.div_u (local.get $heads) (local.get $groups)))
    (local.set $h (local.get $h0))
    (block $headsDone (loop $eachHead
      (br_if $headsDone (i32.ge_u (local.get $h) (local.get $h1)))
      (local.set $p (i32.const 0))
      (block $channelsDone (loop $eachChannel
        (br_if $channelsDone (i32.ge_u (local.get $p) (local.get $headDim)))
        ;; a pair of channels (p, p + 1), or p alone at the end of an odd head: then the second
        ;; row is the first again and only the first is stored ($pair = 0)
        (local.set $pair (i32.lt_u (i32.add (local.get $p) (i32.const 1)) (local.get $headDim)))
        (local.set $row0 (i32.add (local.get $state)
          (i32.mul (i32.add (i32.mul (local.get $h) (local.get $headDim)) (local.get $p)) (local.get $rowBytes))))
        (local.set $row1 (select (i32.add (local.get $row0) (local.get $rowBytes)) (local.get $row0) (local.get $pair)))
        (local.set $headRates (i32.add (local.get $rates) (i32.mul (local.get $h) (local.get $rowBytes))))
        (local.set $t (i32.const 0))
        (block $rowsDone (loop $eachRow
          (br_if $rowsDone (i32.ge_u (local.get $t) (local.get $n)))
          (local.set $th (i32.shl (i32.add (i32.mul (local.get $t) (local.get $heads)) (local.get $h)) (i32.const 2)))
          (local.set $step (f32.load (i32.add (local.get $steps) (local.get $th))))
          (if (i32.eqz (local.get $rates)) (then
            (local.set $decay (v128.load32_splat (i32.add (local.get $decays) (local.get $th))))))
          ;; x[t, h, p] (and p + 1) at byte (((t·heads + h)·headDim + p)·4
          (local.set $xy (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $t) (local.get $heads)) (local.get $h)) (local.get $headDim)) (local.get $p)) (i32.const 2)))
          (local.set $drive0 (f32x4.splat (f32.mul (local.get $step) (f32.load (i32.add (local.get $x) (local.get $xy))))))
          (local.set $drive1 (f32x4.splat (f32.mul (local.get $step)
            (f32.load (i32.add (i32.add (local.get $x) (local.get $xy)) (i32.shl (local.get $pair) (i32.const 2)))))))
          (local.set $bc (i32.mul (i32.add (i32.mul (local.get $t) (local.get $groups)) (i32.div_u (local.get $h) (local.get $perGroup))) (local.get $rowBytes)))
          (local.set $acc0 (v128.const i32x4 0 0 0 0))
          (local.set $acc1 (v128.const i32x4 0 0 0 0))
          (local.set $s (i32.const 0))
          (block $quadsDone (loop $eachQuad
            (br_if $quadsDone (i32.ge_u (local.get $s) (local.get $rowBytes)))
            (local.set $bq (v128.load (i32.add (i32.add (local.get $b) (local.get $bc)) (local.get $s))))
            (local.set $cq (v128.load (i32.add (i32.add (local.get $c) (local.get $bc)) (local.get $s))))
            (if (local.get $rates) (then
              (local.set $decay (call $exp4 (f32x4.mul (f32x4.splat (local.get $step)) (v128.load (i32.add (local.get $headRates) (local.get $s))))))))
            (local.set $s0 (f32x4.add (f32x4.mul (local.get $decay) (v128.load (i32.add (local.get $row0) (local.get $s))))
              (f32x4.mul (local.get $drive0) (local.get $bq))))
            (local.set $s1 (f32x4.add (f32x4.mul (local.get $decay) (v128.load (i32.add (local.get $row1) (local.get $s))))
              (f32x4.mul (local.get $drive1) (local.get $bq))))
            (v128.store (i32.add (local.get $row0) (local.get $s)) (local.get $s0))
            ;; the lone channel's second lane pair is the first again: storing it twice changes nothing
            (v128.store (i32.add (local.get $row1) (local.get $s)) (local.get $s1))
            (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $s0) (local.get $cq))))
            (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $s1) (local.get $cq))))
            (local.set $s (i32.add (local.get $s) (i32.const 16)))
            (br $eachQuad)))
          (f32.store (i32.add (local.get $y) (local.get $xy))
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
              (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
          (if (local.get $pair) (then
            (f32.store (i32.add (i32.add (local.get $y) (local.get $xy)) (i32.const 4))
              (f32.add
                (f32.add (f32x4.extract_lane 0 (local.get $acc1)) (f32x4.extract_lane 1 (local.get $acc1)))
                (f32.add (f32x4.extract_lane 2 (local.get $acc1)) (f32x4.extract_lane 3 (local.get $acc1)))))))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $eachRow)))
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (br $eachChannel)))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $eachHead)))
  )
)
