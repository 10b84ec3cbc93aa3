import ArgumentParser

/// The exit codes of dip-report beyond ArgumentParser's 0 (success), 1 (failure) and 64 (usage:
/// a bad flag or value); README's "Errors and exit codes" lists them all.
extension ExitCode {
    /// A fit's loss became NaN or infinite; what could be saved was saved.
    static let diverged = ExitCode(2)
    /// `gpu-selftest` found no usable GPU (driver, device or cuDNN missing), so checked nothing.
    static let noDevice = ExitCode(3)
    /// Stopped by Ctrl-C (SIGINT) after saving what there was: 128 + 2, as shells report it.
    static let interrupted = ExitCode(130)
    /// Stopped by SIGTERM (`timeout`, `kill`, Slurm): 128 + 15.
    static let terminated = ExitCode(143)
}
