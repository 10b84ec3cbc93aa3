import CDNNL

/// A convolution on oneDNN for one geometry: forward (with bias), backward-data and
/// backward-weights (with the bias gradient), each a primitive created once and executed every
/// call.
///
/// The primitives choose their own memory layouts (format_tag_any, usually channel-blocked
/// nChw16c / OIhw16i16o on AVX-512); the plain nchw / oihw tensors of the `ConvolutionKernel`
/// entry points are reordered into and out of those layouts around each call, through the
/// backend's shared scratch arena. The chosen layouts are kept per pass (`forward`,
/// `backwardData`, `backwardWeights`), so entry points that take tensors already in the
/// primitive's layout can later skip the reorders.
///
/// Where the forward and the backward-weights pass read the input in the same reordered
/// layout, the forward's reordered input is kept (a buffer of this kernel's own, the size of
/// that layout) and the backward-weights pass of the same input reads it instead of reordering
/// the input again, as `ConvolutionKernel.backwardWeights` allows.
final class OneDNNConvolution: ConvolutionKernel {
    /// The geometry this kernel was made for.
    let geometry: ConvGeometry
    /// The algorithm the caller asked for.
    let requested: ConvAlgorithm
    /// Forward pass: src, weights, bias -> dst.
    let forward: OneDNNPass
    /// Backward-data pass: diff_dst, weights -> diff_src.
    let backwardData: OneDNNPass
    /// Backward-weights pass: src, diff_dst -> diff_weights, diff_bias.
    let backwardWeights: OneDNNPass
    /// Why a pass runs another algorithm than the one requested (empty when none does).
    let notes: [String]
    /// The forward's input port when its reordered input can serve the backward-weights pass
    /// (both reorder the input, into the same layout); nil otherwise.
    private let sharedSource: OneDNNPass.Port?
    /// The forward's reordered input (`sharedSource` only).
    private let keptSource = KeptForwardInput()
    /// The forward pass's algorithm (the backward passes follow it where oneDNN has it).
    var algorithm: ConvAlgorithm { forward.algorithm }
    /// Each pass's algorithm and oneDNN implementation.
    var implementation: String {
        [("forward", forward), ("backward-data", backwardData), ("backward-weights", backwardWeights)]
            .map { "\($0.0) \($0.1.algorithm.rawValue) (\($0.1.implementation))" }.joined(separator: ", ")
    }
    private let backend: CPUBackend

    /// Creates the three primitives and their reorders; throws `EngineError.backend` when
    /// oneDNN refuses the direct algorithm too.
    init(geometry g: ConvGeometry, algorithm: ConvAlgorithm, backend: CPUBackend) throws {
        self.geometry = g
        self.requested = algorithm
        self.backend = backend
        var notes: [String] = []
        let winogradFits = g.kernel == 3 && g.stride == 1
        let wanted: ConvAlgorithm
        switch algorithm {
        case .direct: wanted = .direct
        // auto: Winograd where it applies. It is 2-2.5x faster on the dominant 3x3 stride-1
        // shapes and changed fits by less than the spread between seeds (BENCHMARKS.md).
        case .auto: wanted = winogradFits ? .winograd : .direct
        case .winograd:
            wanted = winogradFits ? .winograd : .direct
            if !winogradFits { notes.append("winograd needs a 3x3 stride-1 convolution; \(g) runs direct") }
        }
        let engine = backend.engine
        let desc = ConvDescriptors(g)

        (forward, backwardData, backwardWeights) = try backend.withRuntime {
            // Each pass tries the wanted algorithm first. Under `auto` a refusal falls back to
            // direct (the caller can see it in `implementation`); an explicit `winograd` that
            // oneDNN cannot run is an error, never a silent direct convolution (CPUBackend then
            // runs its own WinogradConvolution instead).
            func build(_ pass: String, _ make: (dnnl_alg_kind_t) throws -> OneDNNPass) throws -> OneDNNPass {
                if wanted == .winograd {
                    do { return try make(dnnl_convolution_winograd) } catch {
                        guard algorithm == .auto else {
                            throw EngineError.backend("oneDNN \(CPUBackend.oneDNNVersion) has no Winograd \(pass) convolution for \(g) on this CPU (instruction set \(CPUBackend.effectiveISA)); its Winograd needs AVX-512")
                        }
                        notes.append("\(pass) \(g): oneDNN has no winograd implementation here (\(error)); running direct")
                    }
                }
                return try make(dnnl_convolution_direct)
            }
            let fwd = try build("forward") { alg in
                var d = dnnl_convolution_desc_t()
                var src = desc.src, wei = desc.weights, bias = desc.bias, dst = desc.dst
                try dnnlCheck(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, alg, &src, &wei, &bias, &dst,
                                                                 desc.strides, desc.padL, desc.padR),
                              "dnnl_convolution_forward_desc_init for \(g)")
                return try OneDNNPass(&d, hint: nil, engine: engine, algorithm: alg, what: "forward convolution \(g)",
                                      ports: [(DNNL_ARG_SRC, dnnl_query_src_md, 0, desc.src, true),
                                              (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, desc.weights, true),
                                              (DNNL_ARG_BIAS, dnnl_query_weights_md, 1, desc.bias, true),
                                              (DNNL_ARG_DST, dnnl_query_dst_md, 0, desc.dst, false)])
            }
            let bwdData = try build("backward-data") { alg in
                var d = dnnl_convolution_desc_t()
                var src = desc.src, wei = desc.weights, dst = desc.dst
                try dnnlCheck(dnnl_convolution_backward_data_desc_init(&d, alg, &src, &wei, &dst,
                                                                       desc.strides, desc.padL, desc.padR),
                              "dnnl_convolution_backward_data_desc_init for \(g)")
                return try OneDNNPass(&d, hint: fwd.descriptor, engine: engine, algorithm: alg,
                                      what: "backward-data convolution \(g)",
                                      ports: [(DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, desc.dst, true),
                                              (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, desc.weights, true),
                                              (DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, desc.src, false)])
            }
            let bwdWeights = try build("backward-weights") { alg in
                var d = dnnl_convolution_desc_t()
                var src = desc.src, wei = desc.weights, bias = desc.bias, dst = desc.dst
                try dnnlCheck(dnnl_convolution_backward_weights_desc_init(&d, alg, &src, &wei, &bias, &dst,
                                                                          desc.strides, desc.padL, desc.padR),
                              "dnnl_convolution_backward_weights_desc_init for \(g)")
                return try OneDNNPass(&d, hint: fwd.descriptor, engine: engine, algorithm: alg,
                                      what: "backward-weights convolution \(g)",
                                      ports: [(DNNL_ARG_SRC, dnnl_query_src_md, 0, desc.src, true),
                                              (DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, desc.dst, true),
                                              (DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0, desc.weights, false),
                                              (DNNL_ARG_DIFF_BIAS, dnnl_query_diff_weights_md, 1, desc.bias, false)])
            }
            return (fwd, bwdData, bwdWeights)
        }
        self.notes = notes
        if let f = forward.port(DNNL_ARG_SRC), let w = backwardWeights.port(DNNL_ARG_SRC),
           f.reorder != nil, w.reorder != nil, f.hasLayout(of: w) {
            sharedSource = f
        } else {
            sharedSource = nil
        }
    }

    /// True where the forward's reordered input is kept for the backward-weights pass.
    var keepsForwardInput: Bool { sharedSource != nil }

    /// output = conv(input, weight) + bias.
    func forward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws {
        try geometry.checkForward(input: input, weight: weight, bias: bias, output: output)
        guard let port = sharedSource else {
            try run(forward, [input, weight, bias, output])
            return
        }
        let kept = keptSource.buffer(bytes: port.layoutBytes)
        try backend.withRuntime {
            try port.reorderIn(UnsafeMutableRawPointer(input.pointer), to: kept, stream: backend.stream)
            let arena = forward.scratchBytes > 0 ? backend.scratch(bytes: forward.scratchBytes) : nil
            try forward.execute([input, weight, bias, output].map { UnsafeMutableRawPointer($0.pointer) }, arena: arena,
                                stream: backend.stream, prepared: [(DNNL_ARG_SRC, kept)])
        }
        keptSource.kept(from: input)
    }

    /// The forward's reordered input when `input` is the tensor it read (then forgotten: it
    /// serves one backward-weights pass).
    private func takeKeptSource(for input: Tensor) -> [(argument: Int32, data: UnsafeMutableRawPointer)] {
        guard let kept = keptSource.take(for: input) else { return [] }
        return [(DNNL_ARG_SRC, kept)]
    }

    /// gradInput = d loss / d input, given d loss / d output.
    func backwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws {
        try geometry.checkBackwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        try run(backwardData, [gradOutput, weight, gradInput])
    }

    /// gradWeight, gradBias = d loss / d weight, d loss / d bias.
    /// When `input` is the tensor the last forward read, that forward's reordered input is read
    /// instead of reordering it again (so Conv2d may reuse the tensor's memory in between).
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws {
        try geometry.checkBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        try run(backwardWeights, [input, gradOutput, gradWeight, gradBias], prepared: takeKeptSource(for: input))
    }

    /// Both backward passes. Where both want the output gradient in the same blocked layout it
    /// is reordered once, into the front of the arena, and both primitives read it there (the
    /// passes otherwise reorder the same tensor twice); the arena grows by that one tensor.
    func backward(input: Tensor, gradOutput: Tensor, weight: Tensor, gradWeight: Tensor, gradBias: Tensor,
                  gradInput: Tensor?) throws {
        guard let gradInput, let w = backwardWeights.port(DNNL_ARG_DIFF_DST), let d = backwardData.port(DNNL_ARG_DIFF_DST),
              w.reorder != nil, d.reorder != nil, w.hasLayout(of: d) else {
            try backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
            if let gradInput { try backwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput) }
            return
        }
        let source = takeKeptSource(for: input)
        try geometry.checkBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        try geometry.checkBackwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        try backend.withRuntime {
            let shared = w.layoutBytes
            let arena = backend.scratch(bytes: shared + max(backwardWeights.scratchBytes, backwardData.scratchBytes))
            try w.reorderIn(UnsafeMutableRawPointer(gradOutput.pointer), to: arena, stream: backend.stream)
            let prepared = (argument: DNNL_ARG_DIFF_DST, data: arena)
            try backwardWeights.execute([input, gradOutput, gradWeight, gradBias].map { UnsafeMutableRawPointer($0.pointer) },
                                        arena: arena + shared, stream: backend.stream, prepared: [prepared] + source)
            try backwardData.execute([gradOutput, weight, gradInput].map { UnsafeMutableRawPointer($0.pointer) },
                                     arena: arena + shared, stream: backend.stream, prepared: [prepared])
        }
    }

    private func run(_ pass: OneDNNPass, _ tensors: [Tensor],
                     prepared: [(argument: Int32, data: UnsafeMutableRawPointer)] = []) throws {
        try backend.withRuntime {
            let arena = pass.scratchBytes > 0 ? backend.scratch(bytes: pass.scratchBytes) : nil
            try pass.execute(tensors.map { UnsafeMutableRawPointer($0.pointer) }, arena: arena, stream: backend.stream,
                             prepared: prepared)
        }
    }
}

/// The plain memory descriptors and spatial parameters of one geometry, as oneDNN wants them.
struct ConvDescriptors {
    /// [1, Cin, H, W], format any.
    var src = dnnl_memory_desc_t()
    /// [Cout, Cin, k, k], format any.
    var weights = dnnl_memory_desc_t()
    /// [Cout], plain.
    var bias = dnnl_memory_desc_t()
    /// [1, Cout, Ho, Wo], format any.
    var dst = dnnl_memory_desc_t()
    /// Stride per spatial dimension.
    let strides: [Int64]
    /// No padding at the top and left: the network pads by reflection beforehand.
    let padL: [Int64] = [0, 0]
    /// Bottom/right padding that makes oneDNN's size rule give floor((n - k) / s) + 1; zero or
    /// negative (the rows a stride steps over at the end).
    let padR: [Int64]

    init(_ g: ConvGeometry) {
        let s = Int64(g.stride), k = Int64(g.kernel)
        strides = [s, s]
        padR = [(Int64(g.outputHeight) - 1) * s + k - Int64(g.inputHeight),
                (Int64(g.outputWidth) - 1) * s + k - Int64(g.inputWidth)]
        src = Self.md([1, g.inChannels, g.inputHeight, g.inputWidth], dnnl_format_tag_any)
        weights = Self.md(g.weightDims, dnnl_format_tag_any)
        bias = Self.md(g.biasDims, dnnl_x)
        dst = Self.md([1, g.outChannels, g.outputHeight, g.outputWidth], dnnl_format_tag_any)
    }

    /// The plain (row-major) layout of `md`'s dimensions: our Tensor layout.
    static func plain(_ md: dnnl_memory_desc_t) -> dnnl_memory_desc_t {
        let tags: [Int32: dnnl_format_tag_t] = [1: dnnl_a, 2: dnnl_ab, 3: dnnl_abc, 4: dnnl_abcd]
        let dims = withUnsafeBytes(of: md.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(md.ndims))) }
        return Self.md(dims.map(Int.init), tags[md.ndims]!)
    }

    /// An f32 memory descriptor of `dims` in layout `tag`.
    static func md(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map(Int64.init)
        // Only fails for a bad rank or tag, which are fixed here.
        let status = dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag)
        precondition(status == dnnl_success, "dnnl_memory_desc_init_by_tag(\(dims)) failed")
        return md
    }
}

/// One primitive with its arguments: for each, the plain user layout, the primitive's layout,
/// and a reorder between them when they differ.
final class OneDNNPass {
    /// One argument of the primitive.
    final class Port {
        /// DNNL_ARG_* index.
        let argument: Int32
        /// True for arguments the primitive reads (reordered in before), false for outputs
        /// (reordered out after).
        let isInput: Bool
        /// The layout the primitive chose.
        let layout: dnnl_memory_desc_t
        /// Memory in the plain layout; its handle is set to the caller's tensor each call.
        let user: dnnl_memory_t
        /// Memory in the primitive's layout (the user memory when no reorder is needed).
        let inner: dnnl_memory_t
        /// plain -> layout for inputs, layout -> plain for outputs; nil when they match.
        let reorder: dnnl_primitive_t?
        /// Where `inner`'s data lives in the arena (when reordered).
        let arenaOffset: Int

        /// Creates the memory objects and, when `layout` differs from `plain`, the reorder.
        init(argument: Int32, isInput: Bool, layout: dnnl_memory_desc_t, plain: dnnl_memory_desc_t,
             engine: dnnl_engine_t, arenaOffset: Int, what: String) throws {
            self.argument = argument
            self.isInput = isInput
            self.layout = layout
            self.arenaOffset = arenaOffset
            var plain = plain, layout = layout
            var user: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&user, &plain, engine, nil), "dnnl_memory_create for \(what)")
            self.user = user!
            if dnnl_memory_desc_equal(&plain, &layout) != 0 {
                inner = user!
                reorder = nil
                return
            }
            var inner: dnnl_memory_t?
            var pd: dnnl_primitive_desc_t?
            var prim: dnnl_primitive_t?
            do {
                try dnnlCheck(dnnl_memory_create(&inner, &layout, engine, nil), "dnnl_memory_create for \(what)")
                if isInput {
                    try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &plain, engine, &layout, engine, nil),
                                  "dnnl_reorder_primitive_desc_create for \(what)")
                } else {
                    try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &layout, engine, &plain, engine, nil),
                                  "dnnl_reorder_primitive_desc_create for \(what)")
                }
                defer { dnnl_primitive_desc_destroy(pd) }
                try dnnlCheck(dnnl_primitive_create(&prim, pd), "dnnl_primitive_create(reorder) for \(what)")
            } catch {
                if let inner { dnnl_memory_destroy(inner) }
                dnnl_memory_destroy(user)
                throw error
            }
            self.inner = inner!
            self.reorder = prim!
        }

        deinit {
            if let reorder {
                dnnl_primitive_destroy(reorder)
                dnnl_memory_destroy(inner)
            }
            dnnl_memory_destroy(user)
        }

        /// Bytes of the primitive's layout, rounded up to a page (as the arena places it).
        var layoutBytes: Int {
            var l = layout
            return (dnnl_memory_desc_get_size(&l) + 4095) / 4096 * 4096
        }

        /// Whether `other` wants the same layout.
        func hasLayout(of other: Port) -> Bool {
            var a = layout, b = other.layout
            return dnnl_memory_desc_equal(&a, &b) != 0
        }

        /// Reorders the plain tensor at `source` into this port's layout at `destination` and
        /// waits (an input port with a reorder only).
        func reorderIn(_ source: UnsafeMutableRawPointer, to destination: UnsafeMutableRawPointer, stream: dnnl_stream_t) throws {
            guard isInput, let reorder else { throw EngineError.backend("reorderIn on a port without an input reorder") }
            try dnnlCheck(dnnl_memory_set_data_handle(user, source), "dnnl_memory_set_data_handle")
            try dnnlCheck(dnnl_memory_set_data_handle(inner, destination), "dnnl_memory_set_data_handle")
            let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: user), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: inner)]
            try dnnlCheck(dnnl_primitive_execute(reorder, stream, 2, args), "dnnl_primitive_execute(reorder)")
            try dnnlCheck(dnnl_stream_wait(stream), "dnnl_stream_wait")
        }
    }

    /// The port of argument `argument` (DNNL_ARG_*), if the primitive has one.
    func port(_ argument: Int32) -> Port? { ports.first { $0.argument == argument } }

    /// The primitive descriptor (the hint for the backward passes).
    let descriptor: dnnl_primitive_desc_t
    private let primitive: dnnl_primitive_t
    /// The algorithm oneDNN runs: direct or winograd.
    let algorithm: ConvAlgorithm
    /// oneDNN's implementation name, e.g. "jit:avx512_core" (for logs and benchmarks).
    let implementation: String
    /// The arguments, in the order the entry point passes its tensors.
    let ports: [Port]
    /// The primitive's own scratch (user scratchpad mode), nil when it needs none.
    private let scratchpad: dnnl_memory_t?
    /// Where the scratchpad lives in the arena, after the reordered arguments.
    private let scratchpadOffset: Int
    /// Arena bytes the reordered arguments and the scratchpad need together.
    let scratchBytes: Int

    /// Creates the primitive for an initialised operation descriptor, then one port per
    /// (argument, query, query index, plain descriptor, is input).
    init(_ opDesc: inout dnnl_convolution_desc_t, hint: dnnl_primitive_desc_t?, engine: dnnl_engine_t,
         algorithm: dnnl_alg_kind_t, what: String,
         ports specs: [(Int32, dnnl_query_t, Int32, dnnl_memory_desc_t, Bool)]) throws {
        // User scratchpad mode: the primitive's scratch lives in the backend's shared arena
        // instead of a buffer of its own, so all kernels share one allocation sized to the
        // largest need (winograd's transformed tiles are the big ones).
        var attr: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create for \(what)")
        defer { dnnl_primitive_attr_destroy(attr) }
        try dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user),
                      "dnnl_primitive_attr_set_scratchpad_mode for \(what)")
        var pd: dnnl_primitive_desc_t?
        try dnnlCheck(dnnl_primitive_desc_create(&pd, &opDesc, attr, engine, hint), "dnnl_primitive_desc_create for \(what)")
        var prim: dnnl_primitive_t?
        var scratchpad: dnnl_memory_t?
        do {
            try dnnlCheck(dnnl_primitive_create(&prim, pd), "dnnl_primitive_create for \(what)")
            var md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)!.pointee
            if dnnl_memory_desc_get_size(&md) > 0 {
                try dnnlCheck(dnnl_memory_create(&scratchpad, &md, engine, nil), "dnnl_memory_create(scratchpad) for \(what)")
            }
        } catch {
            if let prim { dnnl_primitive_destroy(prim) }
            dnnl_primitive_desc_destroy(pd)
            throw error
        }
        var name: UnsafePointer<CChar>?
        implementation = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name != nil
            ? String(cString: name!) : "unknown"
        var ports: [Port] = []
        var offset = 0
        do {
            for (argument, query, index, requested, isInput) in specs {
                let layout = dnnl_primitive_desc_query_md(pd, query, index)!.pointee
                let port = try Port(argument: argument, isInput: isInput, layout: layout,
                                    plain: ConvDescriptors.plain(requested), engine: engine, arenaOffset: offset,
                                    what: what)
                if port.reorder != nil {
                    var l = layout
                    offset += (dnnl_memory_desc_get_size(&l) + 4095) / 4096 * 4096
                }
                ports.append(port)
            }
        } catch {
            if let scratchpad { dnnl_memory_destroy(scratchpad) }
            dnnl_primitive_destroy(prim)
            dnnl_primitive_desc_destroy(pd)
            throw error
        }
        descriptor = pd!
        primitive = prim!
        self.algorithm = algorithm == dnnl_convolution_winograd ? .winograd : .direct
        self.ports = ports
        self.scratchpad = scratchpad
        scratchpadOffset = offset
        if var md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)?.pointee {
            offset += (dnnl_memory_desc_get_size(&md) + 4095) / 4096 * 4096
        }
        scratchBytes = offset
    }

    deinit {
        if let scratchpad { dnnl_memory_destroy(scratchpad) }
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// Points the ports at `buffers` (plain, one per port) and `arena` (reordered arguments and
    /// scratchpad), reorders the inputs in,
    /// runs the primitive, reorders the outputs out and waits.
    /// `prepared` names inputs already in the primitive's layout at `data` (reordered by the
    /// caller, for two passes that read them): they are not reordered again.
    func execute(_ buffers: [UnsafeMutableRawPointer], arena: UnsafeMutableRawPointer?, stream: dnnl_stream_t,
                 prepared: [(argument: Int32, data: UnsafeMutableRawPointer)] = []) throws {
        var args: [dnnl_exec_arg_t] = []
        args.reserveCapacity(ports.count)
        for (port, buffer) in zip(ports, buffers) {
            try dnnlCheck(dnnl_memory_set_data_handle(port.user, buffer), "dnnl_memory_set_data_handle")
            if let ready = prepared.first(where: { $0.argument == port.argument }), port.reorder != nil {
                try dnnlCheck(dnnl_memory_set_data_handle(port.inner, ready.data), "dnnl_memory_set_data_handle")
            } else if let reorder = port.reorder {
                try dnnlCheck(dnnl_memory_set_data_handle(port.inner, arena! + port.arenaOffset), "dnnl_memory_set_data_handle")
                if port.isInput { try runReorder(reorder, from: port.user, to: port.inner, stream) }
            }
            args.append(dnnl_exec_arg_t(arg: port.argument, memory: port.inner))
        }
        if let scratchpad {
            try dnnlCheck(dnnl_memory_set_data_handle(scratchpad, arena! + scratchpadOffset), "dnnl_memory_set_data_handle")
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpad))
        }
        try dnnlCheck(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "dnnl_primitive_execute")
        for port in ports where !port.isInput {
            if let reorder = port.reorder { try runReorder(reorder, from: port.inner, to: port.user, stream) }
        }
        try dnnlCheck(dnnl_stream_wait(stream), "dnnl_stream_wait")
    }

    private func runReorder(_ reorder: dnnl_primitive_t, from: dnnl_memory_t, to: dnnl_memory_t, _ stream: dnnl_stream_t) throws {
        let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: from), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: to)]
        try dnnlCheck(dnnl_primitive_execute(reorder, stream, 2, args), "dnnl_primitive_execute(reorder)")
    }
}
