import ArgumentParser
import DIPEngine

extension ComputeDevice: ExpressibleByArgument {}

extension GPUMathMode: ExpressibleByArgument {}

/// Where fits compute: `inpaint`, `bench`, `run`, `build` and `submit`.
struct DeviceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where fits compute: cpu, cuda (an NVIDIA GPU of compute capability 8.0 or newer, its driver and cuDNN 9), or auto (cuda when usable, else cpu).",
                               discussion: "On cuda the whole fit stays on the GPU. L-BFGS fits run on the CPU whatever the device (they need the parameters in host memory)."))
    var device: ComputeDevice = .cpu

    @Option(name: .customLong("gpu-math"), help: "GPU convolution arithmetic: tf32 (tensor cores, PyTorch's default) or strict (FP32 FMA, closest to the CPU).")
    var gpuMath: GPUMathMode = .tf32

    /// The factory of the chosen device; throws, saying what is missing, when cuda is asked for
    /// and no GPU is usable.
    func factory() throws -> BackendFactory { try device.factory(math: gpuMath) }
}
