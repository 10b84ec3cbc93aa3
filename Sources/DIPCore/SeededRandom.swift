/// The project's one source of randomness: Philox4x32-10 (Salmon et al., SC'11), a
/// counter-based generator.
///
/// Why counter-based: draw number `i` of a stream is a pure function of (key, stream, i), so a
/// tensor of noise can be filled in any order, by any number of threads (or, later, by a GPU
/// kernel) and still come out identical to the bit. Every random draw in dip-report goes through
/// this type.
///
/// Streams are split by purpose: the key is SplitMix64(seed) mixed with a fixed code per
/// `RandomPurpose`, and a 64-bit `substream` (for example the iteration number of a
/// perturbation draw) takes the upper half of the counter. Two purposes never share numbers, and
/// adding draws of one purpose never shifts those of another.
///
/// Conversions:
/// - uniform Float in [0, 1): the top 24 bits of a 32-bit word times 2^-24;
/// - normal: Box-Muller on each pair of words, u1 = (a + 0.5) 2^-32, u2 = (b + 0.5) 2^-32,
///   evaluated in Float64 with our own `log` and `sincos` (plain IEEE arithmetic only, so no
///   platform libm can change a bit), then rounded to Float.
public struct RandomStream: Sendable {
    /// What a stream is used for; each purpose has its own key.
    public enum Purpose: UInt64, Sendable, CaseIterable {
        /// Network weight and BatchNorm gamma initialisation.
        case weights = 1
        /// The input code z.
        case inputCode = 2
        /// Bernoulli masks.
        case mask = 3
        /// Per-iteration perturbation of z (sigma_p).
        case perturbation = 4
        /// Tests and tools that need noise unrelated to a fit (e.g. synthetic images).
        case auxiliary = 5
    }

    /// The 64-bit Philox key derived from the seed and purpose.
    public let key: (UInt32, UInt32)
    /// The upper 64 bits of the counter.
    public let substream: UInt64
    /// The next block (lower 64 bits of the counter) that sequential draws will use.
    public private(set) var block: UInt64 = 0
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    /// A stream for `purpose` of the run seeded with `seed`.
    public init(seed: UInt64, purpose: Purpose, substream: UInt64 = 0) {
        var state = seed ^ (purpose.rawValue &* 0x9E37_79B9_7F4A_7C15)
        let k = RandomStream.splitMix64(&state)
        self.key = (UInt32(truncatingIfNeeded: k), UInt32(truncatingIfNeeded: k >> 32))
        self.substream = substream
    }

    /// A stream with an explicit Philox key (used by the known-answer tests).
    public init(key: (UInt32, UInt32), substream: UInt64 = 0) {
        self.key = key
        self.substream = substream
    }

    /// SplitMix64 (Steele et al.), used only to turn a seed into a well-mixed key.
    public static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The Philox4x32-10 bijection of one 128-bit counter under a 64-bit key.
    @inlinable
    public static func philox(_ counter: (UInt32, UInt32, UInt32, UInt32),
                              key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 {
                k.0 &+= 0x9E37_79B9
                k.1 &+= 0xBB67_AE85
            }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c.0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c.2)
            c = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c.1 ^ k.0,
                 UInt32(truncatingIfNeeded: p1),
                 UInt32(truncatingIfNeeded: p0 >> 32) ^ c.3 ^ k.1,
                 UInt32(truncatingIfNeeded: p0))
        }
        return c
    }

    /// The four words of block `index` of this stream (random access; does not move the stream).
    @inlinable
    public func words(block index: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        RandomStream.philox((UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
                             UInt32(truncatingIfNeeded: substream), UInt32(truncatingIfNeeded: substream >> 32)),
                            key: key)
    }

    /// The next 32-bit word of the sequential stream.
    public mutating func next32() -> UInt32 {
        if used == 4 {
            buffer = words(block: block)
            block &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    /// A uniform Float in [0, 1).
    public mutating func uniform() -> Float { RandomStream.unitFloat(next32()) }

    /// A uniform integer in 0..<bound (Lemire's multiply-shift with rejection, so no bias).
    public mutating func integer(below bound: UInt32) -> UInt32 {
        precondition(bound > 0)
        while true {
            let m = UInt64(next32()) &* UInt64(bound)
            let low = UInt32(truncatingIfNeeded: m)
            if low >= (0 &- bound) % bound { return UInt32(m >> 32) }
        }
    }

    /// Maps a word to [0, 1) with 24 bits, exactly representable in Float.
    @inlinable
    public static func unitFloat(_ w: UInt32) -> Float { Float(w >> 8) * 0x1p-24 }

    /// Fills `out` with U[low, high): element i uses word i of the stream (random access), so
    /// the result does not depend on how the work is split.
    public func fillUniform(_ out: UnsafeMutableBufferPointer<Float>, low: Float = 0, high: Float = 1) {
        let n = out.count
        let scale = high - low
        var i = 0
        var b: UInt64 = 0
        while i < n {
            let w = words(block: b)
            out[i] = low + scale * RandomStream.unitFloat(w.0)
            if i + 1 < n { out[i + 1] = low + scale * RandomStream.unitFloat(w.1) }
            if i + 2 < n { out[i + 2] = low + scale * RandomStream.unitFloat(w.2) }
            if i + 3 < n { out[i + 3] = low + scale * RandomStream.unitFloat(w.3) }
            i += 4
            b += 1
        }
    }

    /// Fills `out` with N(mean, std^2); elements 4b..4b+3 come from block b by Box-Muller.
    public func fillNormal(_ out: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        fillNormal(out, blocks: 0..<UInt64((out.count + 3) / 4), mean: mean, std: std)
    }

    /// Fills the elements of `out` that belong to `blocks` (4 elements a block); lets callers
    /// split one fill across threads without changing a bit.
    public func fillNormal(_ out: UnsafeMutableBufferPointer<Float>, blocks: Range<UInt64>,
                           mean: Float = 0, std: Float = 1) {
        let n = out.count
        let m = Double(mean), s = Double(std)
        for b in blocks {
            let w = words(block: b)
            let (z0, z1) = RandomStream.boxMuller(w.0, w.1)
            let (z2, z3) = RandomStream.boxMuller(w.2, w.3)
            let i = Int(b) * 4
            if i < n { out[i] = Float(m + s * z0) }
            if i + 1 < n { out[i + 1] = Float(m + s * z1) }
            if i + 2 < n { out[i + 2] = Float(m + s * z2) }
            if i + 3 < n { out[i + 3] = Float(m + s * z3) }
        }
    }

    /// Two independent standard normals from two words.
    @inlinable
    public static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Double, Double) {
        let u1 = (Double(a) + 0.5) * 0x1p-32
        let u2 = (Double(b) + 0.5) * 0x1p-32
        let r = (-2 * DeterministicMath.log(u1)).squareRoot()
        let (s, c) = DeterministicMath.sinCosTwoPi(u2)
        return (r * c, r * s)
    }
}

/// Elementary functions written with IEEE basic operations only, so their results are the same
/// on every machine (platform libms differ in the last bit). Accurate to a few ulp, which is
/// plenty for turning random words into normals.
public enum DeterministicMath {
    /// Natural logarithm of a positive, finite, normal Double.
    @inlinable
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite)
        var e = Int(x.exponent)
        var m = x.significand          // in [1, 2)
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        let s = (m - 1) / (m + 1)      // |s| <= 0.1716
        let s2 = s * s
        // 2 * atanh(s) = 2 (s + s^3/3 + s^5/5 + ...); 11 terms bring the error below 1e-17.
        var p = 1.0 / 21.0
        p = p * s2 + 1.0 / 19.0
        p = p * s2 + 1.0 / 17.0
        p = p * s2 + 1.0 / 15.0
        p = p * s2 + 1.0 / 13.0
        p = p * s2 + 1.0 / 11.0
        p = p * s2 + 1.0 / 9.0
        p = p * s2 + 1.0 / 7.0
        p = p * s2 + 1.0 / 5.0
        p = p * s2 + 1.0 / 3.0
        p = p * s2 + 1.0
        let lnm = 2 * s * p
        let ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10
        return Double(e) * ln2hi + (lnm + Double(e) * ln2lo)
    }

    /// (sin 2 pi u, cos 2 pi u) for u in [0, 1).
    @inlinable
    public static func sinCosTwoPi(_ u: Double) -> (Double, Double) {
        // Octant reduction is exact on u itself: u*8 = k + f with f in [0, 1).
        let t = u * 8
        let k = Int(t)
        var f = t - Double(k)
        // Within an octant use the distance to the nearer axis for accuracy.
        let odd = (k & 1) == 1
        if odd { f = 1 - f }
        let r = f * 0.78539816339744830962    // pi/4 * f, in [0, pi/4]
        let r2 = r * r
        var sp = -1.0 / 1307674368000.0       // -1/15!
        sp = sp * r2 + 1.0 / 6227020800.0     // 1/13!
        sp = sp * r2 - 1.0 / 39916800.0       // -1/11!
        sp = sp * r2 + 1.0 / 362880.0
        sp = sp * r2 - 1.0 / 5040.0
        sp = sp * r2 + 1.0 / 120.0
        sp = sp * r2 - 1.0 / 6.0
        let sr = r + r * r2 * sp
        var cp = 1.0 / 20922789888000.0       // 1/16!
        cp = cp * r2 - 1.0 / 87178291200.0    // -1/14!
        cp = cp * r2 + 1.0 / 479001600.0
        cp = cp * r2 - 1.0 / 3628800.0
        cp = cp * r2 + 1.0 / 40320.0
        cp = cp * r2 - 1.0 / 720.0
        cp = cp * r2 + 1.0 / 24.0
        cp = cp * r2 - 0.5
        let cr = 1 + r2 * cp
        // Angle = k*pi/4 + (odd ? pi/4 - r : r). Map octant to (sin, cos).
        switch k & 7 {
        case 0: return (sr, cr)
        case 1: return (cr, sr)
        case 2: return (cr, -sr)
        case 3: return (sr, -cr)
        case 4: return (-sr, -cr)
        case 5: return (-cr, -sr)
        case 6: return (-cr, sr)
        default: return (-sr, cr)
        }
    }
}
