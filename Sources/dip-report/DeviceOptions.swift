import ArgumentParser
import DIPEngine

extension ComputeDevice: ExpressibleByArgument {}

extension GPUMathMode: ExpressibleByArgument {}

/// Where fits compute: `inpaint`, `bench`, `run`, `build` and `submit`.
struct DeviceOptions: ParsableArguments {
    // Optional, with the defaults applied below, so that `run --plan` can refuse what was given.
    @Option(name: .customLong("device"), help: ArgumentHelp("Where fits compute: cpu, cuda (an NVIDIA GPU of compute capability 8.0 or newer, its driver and cuDNN 9), or auto (cuda when usable, else cpu) (default: cpu).",
                               discussion: "On cuda the whole fit stays on the GPU. L-BFGS fits run on the CPU whatever the device (they need the parameters in host memory)."))
    var givenDevice: ComputeDevice?

    @Option(name: .customLong("gpu-math"), help: "GPU convolution arithmetic: tf32 (tensor cores, PyTorch's default) or strict (FP32 FMA, closest to the CPU) (default: tf32).")
    var givenGPUMath: GPUMathMode?

    /// The device: the given one, else cpu.
    var device: ComputeDevice { givenDevice ?? .cpu }

    /// The GPU arithmetic: the given one, else tf32.
    var gpuMath: GPUMathMode { givenGPUMath ?? .tf32 }

    /// The flags given on the command line.
    var givenFlags: [String] { flagsGiven([("--device", givenDevice != nil), ("--gpu-math", givenGPUMath != nil)]) }

    /// The factory of the chosen device; throws, saying what is missing, when cuda is asked for
    /// and no GPU is usable. With `noting`, a --gpu-math given for fits that run here on the
    /// CPU is noted (it changes nothing there, which the user may not expect); `submit` says
    /// nothing, since its tasks resolve the device on their own nodes.
    func factory(noting: Bool = true) throws -> BackendFactory {
        let f = try device.factory(math: gpuMath)
        if noting, givenGPUMath != nil, f.name == BackendFactory.cpu.name {
            printNote("--gpu-math \(gpuMath.rawValue) changes nothing here: the fits run on the CPU (\(device == .auto ? "no usable GPU was found" : "--device \(device.rawValue)"))")
        }
        return f
    }
}
