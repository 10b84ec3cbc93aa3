import ArgumentParser
import DIPEngine
import Foundation

/// `dip-report gpu-selftest`: what this machine offers for --device cuda, then every check of the
/// CUDA layer and backend on the card (CUDASelfTest).
struct GPUSelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu-selftest",
        abstract: "Check the CUDA backend on this machine's GPU against the CPU engine.",
        discussion: """
            Prints the driver, the devices and cuDNN found, then runs every check: driver calls, \
            PTX loading and launches, CUDA Graph capture, cuDNN convolutions against the reference \
            loops, every kernel sequence against the CPU layers, and one whole iteration of the \
            table1 and text nets against the CPU trainer, in both --gpu-math modes. Exits 1 when \
            a check fails, 3 when no GPU is usable.
            """)

    @Option(parsing: .unconditional, help: "The device ordinal (after CUDA_VISIBLE_DEVICES).")
    var ordinal: Int = 0

    func run() throws {
        guard ordinal >= 0 else { throw ValidationError("--ordinal \(ordinal): must be 0 or more") }
        let probe = CUDAProbe.run()
        for line in probe.lines { print(line) }
        guard probe.usable else {
            printError("no usable GPU: the checks need an NVIDIA driver, a device and cuDNN 9")
            throw ExitCode.noDevice
        }
        let checks = CUDASelfTest.run(ordinal: ordinal) { check in
            print("\(check.passed ? "PASS" : "FAIL") \(check.name): \(check.detail)")
            fflush(nil)
        }
        let failed = checks.filter { !$0.passed }.count
        print("\(checks.count - failed) of \(checks.count) checks passed")
        if failed > 0 { throw ExitCode(1) }
    }
}
