/** A radial profile f(s) (s = ‖x − y‖²) as the fused device product evaluates it: by code, with parameters a, b. */
export interface DeviceProfile {
  readonly code: number;
  readonly a: number;
  readonly b: number;
}

/** 0: exp(−a·s) (rbf); 1: (a + s)^(−b) (imq); 2: exp(−a·√s) (Matérn ½); 3, 4: Matérn 3/2, 5/2 with z = a·√s. */
export const PROFILE_CODE = { rbf: 0, imq: 1, matern05: 2, matern15: 3, matern25: 4 } as const;
