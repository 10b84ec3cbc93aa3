import Foundation
import Testing

/// `--device` and `gpu-selftest` where there is no GPU (this machine, CI): a clear refusal that
/// names what is missing and the way out, never a crash or a silent CPU fit.
@Suite("--device without a GPU")
struct DeviceTests {
    /// Whether an NVIDIA driver is installed here (then these refusals do not apply).
    static var hasDriver: Bool { dlopen("libcuda.so.1", RTLD_LAZY) != nil }

    @Test("--device cuda says there is no usable GPU, names the driver and --device cpu, writes nothing",
          .disabled(if: hasDriver, "this machine has an NVIDIA driver"))
    func cudaRefused() throws {
        let s = try Scratch()
        let r = try s.inpaint(["--bernoulli", "0.5", "--device", "cuda", "--out", "o.png"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("--device cuda: no usable NVIDIA GPU"), "\(r.stderr)")
        #expect(r.stderr.contains("libcuda.so.1") && r.stderr.contains("use --device cpu"), "\(r.stderr)")
        #expect(!s.exists("o.png"))
    }

    @Test("--device auto fits on the CPU and says so", .disabled(if: hasDriver, "this machine has an NVIDIA driver"))
    func autoFallsBack() throws {
        let s = try Scratch()
        let r = try s.inpaint(["--bernoulli", "0.5", "--device", "auto", "--iterations", "2", "--out", "o.png"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("on cpu-onednn"), "\(r.stdout)")
        #expect(s.exists("o.png"))
    }

    @Test("an unknown device and math mode are usage errors naming the choices")
    func unknownValues() throws {
        let s = try Scratch()
        let a = try s.inpaint(["--bernoulli", "0.5", "--device", "tpu", "--out", "o.png"])
        #expect(a.status == 64 && a.stderr.contains("'cpu', 'cuda' or 'auto'"), "\(a.stderr)")
        let b = try s.inpaint(["--bernoulli", "0.5", "--gpu-math", "fp16", "--out", "o.png"])
        #expect(b.status == 64 && b.stderr.contains("'tf32' and 'strict'"), "\(b.stderr)")
    }

    @Test("gpu-selftest prints what it found and exits 3 when no GPU is usable",
          .disabled(if: hasDriver, "this machine has an NVIDIA driver"))
    func selfTestWithoutGPU() throws {
        let s = try Scratch()
        let r = try s.run(["gpu-selftest"])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stdout.contains("CUDA driver: none"), "\(r.stdout)")
        #expect(r.stderr.contains("no usable GPU"), "\(r.stderr)")
    }
}
