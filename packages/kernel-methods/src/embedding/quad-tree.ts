/**
 * A point-region quadtree over 2-D points with each cell's point count and centre of mass, for the
 * Barnes–Hut approximation of t-SNE's repulsive forces (van der Maaten 2014, §4.2). Stored as flat
 * arrays (children in groups of four) and rebuilt every iteration.
 */
export class QuadTree {
  /** Cell centre and half-width. */
  private centerX: Float64Array;
  private centerY: Float64Array;
  private halfWidth: Float64Array;
  /** Points in the cell and their centre of mass. */
  private count: Float64Array;
  private massX: Float64Array;
  private massY: Float64Array;
  /** First of four children, or −1 for a leaf. */
  private firstChild: Int32Array;
  /** The single point of a non-empty leaf (−1 otherwise); coincident points share one leaf. */
  private point: Int32Array;
  private size = 0;

  constructor(private readonly y: Float64Array, n: number) {
    const capacity = Math.max(16, 4 * n + 1);
    this.centerX = new Float64Array(capacity);
    this.centerY = new Float64Array(capacity);
    this.halfWidth = new Float64Array(capacity);
    this.count = new Float64Array(capacity);
    this.massX = new Float64Array(capacity);
    this.massY = new Float64Array(capacity);
    this.firstChild = new Int32Array(capacity);
    this.point = new Int32Array(capacity);
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, y[2 * i]);
      maxX = Math.max(maxX, y[2 * i]);
      minY = Math.min(minY, y[2 * i + 1]);
      maxY = Math.max(maxY, y[2 * i + 1]);
    }
    const half = Math.max(maxX - minX, maxY - minY, 1e-12) / 2 + 1e-5;
    this.newCell((minX + maxX) / 2, (minY + maxY) / 2, half);
    for (let i = 0; i < n; i++) this.insert(i);
  }

  /**
   * Adds to `force` (length 2 at `offset`) Σⱼ qᵢⱼ²(yᵢ − yⱼ) over all j ≠ i with qᵢⱼ = (1 + ‖yᵢ − yⱼ‖²)⁻¹,
   * summarizing a cell by its centre of mass once its width / distance < theta; returns Σⱼ qᵢⱼ.
   */
  repulsion(i: number, theta: number, force: Float64Array, offset: number, stack: Int32Array): number {
    const yx = this.y[2 * i];
    const yy = this.y[2 * i + 1];
    const thetaSquared = theta * theta;
    let sumQ = 0;
    let fx = 0;
    let fy = 0;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const cell = stack[--top];
      let count = this.count[cell];
      if (count === 0) continue;
      const dx = yx - this.massX[cell];
      const dy = yy - this.massY[cell];
      const d2 = dx * dx + dy * dy;
      const leaf = this.firstChild[cell] < 0;
      const width = 2 * this.halfWidth[cell];
      if (leaf || width * width < thetaSquared * d2) {
        if (leaf && this.point[cell] >= 0 && this.sameSpot(this.point[cell], i)) count -= 1; // not itself
        if (count === 0) continue;
        const q = 1 / (1 + d2);
        sumQ += count * q;
        const qq = count * q * q;
        fx += qq * dx;
        fy += qq * dy;
      } else {
        const first = this.firstChild[cell];
        for (let c = 0; c < 4; c++) stack[top++] = first + c;
      }
    }
    force[offset] += fx;
    force[offset + 1] += fy;
    return sumQ;
  }

  /** The traversal stack any query needs: 3 entries per level plus 4. */
  stackSize(): number {
    return 3 * 64 + 8;
  }

  private sameSpot(a: number, b: number): boolean {
    return this.y[2 * a] === this.y[2 * b] && this.y[2 * a + 1] === this.y[2 * b + 1];
  }

  private newCell(cx: number, cy: number, half: number): number {
    if (this.size === this.count.length) this.grow();
    const c = this.size++;
    this.centerX[c] = cx;
    this.centerY[c] = cy;
    this.halfWidth[c] = half;
    this.count[c] = 0;
    this.massX[c] = 0;
    this.massY[c] = 0;
    this.firstChild[c] = -1;
    this.point[c] = -1;
    return c;
  }

  private insert(i: number): void {
    const px = this.y[2 * i];
    const py = this.y[2 * i + 1];
    let cell = 0;
    for (let depth = 0; ; depth++) {
      // Running centre of mass.
      const count = this.count[cell] + 1;
      this.massX[cell] += (px - this.massX[cell]) / count;
      this.massY[cell] += (py - this.massY[cell]) / count;
      this.count[cell] = count;
      if (this.firstChild[cell] < 0) {
        if (count === 1) {
          this.point[cell] = i;
          return;
        }
        // A coincident point (or the depth cap, which floating point makes unreachable otherwise)
        // stays in the leaf: the leaf then stands for `count` points at its centre of mass.
        if (this.sameSpot(this.point[cell], i) || depth >= 60 || this.point[cell] < 0) return;
        this.split(cell);
      }
      cell = this.childFor(cell, px, py);
    }
  }

  /** Turns a leaf holding one (possibly repeated) point into an inner cell with four children. */
  private split(cell: number): void {
    const half = this.halfWidth[cell] / 2;
    const cx = this.centerX[cell];
    const cy = this.centerY[cell];
    const first = this.newCell(cx - half, cy - half, half);
    this.newCell(cx + half, cy - half, half);
    this.newCell(cx - half, cy + half, half);
    this.newCell(cx + half, cy + half, half);
    this.firstChild[cell] = first;
    const resident = this.point[cell];
    this.point[cell] = -1;
    // The resident's points (count − 1 of them before the newcomer) move down as one leaf.
    const child = this.childFor(cell, this.y[2 * resident], this.y[2 * resident + 1]);
    this.count[child] = this.count[cell] - 1;
    this.massX[child] = this.y[2 * resident];
    this.massY[child] = this.y[2 * resident + 1];
    this.point[child] = resident;
  }

  private childFor(cell: number, px: number, py: number): number {
    return this.firstChild[cell] + (px >= this.centerX[cell] ? 1 : 0) + (py >= this.centerY[cell] ? 2 : 0);
  }

  private grow(): void {
    const capacity = this.count.length * 2;
    const resize = <T extends Float64Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as new (length: number) => T)(capacity);
      b.set(a);
      return b;
    };
    this.centerX = resize(this.centerX);
    this.centerY = resize(this.centerY);
    this.halfWidth = resize(this.halfWidth);
    this.count = resize(this.count);
    this.massX = resize(this.massX);
    this.massY = resize(this.massY);
    this.firstChild = resize(this.firstChild);
    this.point = resize(this.point);
  }
}
