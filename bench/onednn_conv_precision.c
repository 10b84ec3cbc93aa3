// How fast is oneDNN's bf16 convolution against its fp32 direct and Winograd ones, for one 3x3
// stride-1 layer of the networks, on this machine? (Issue 13's bf16 question: bf16 only pays if
// it beats fp32 Winograd.) Each pass (forward, backward-data, backward-weights) is created once,
// run twice to warm up, then timed over 10 runs; no reorders (the primitive's own layouts).
//
//   gcc -O2 -o /tmp/onednn_conv_precision bench/onednn_conv_precision.c -ldnnl
//   OMP_NUM_THREADS=2 /tmp/onednn_conv_precision [CIN COUT SIZE]     (default 132 128 256)
//
// Prints one line per precision, algorithm and pass: milliseconds per run and GFLOP/s counted
// as a direct convolution (2 x MACs), so Winograd's figure is its speed-up times direct's.
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call) do { dnnl_status_t status_ = (call); \
    if (status_ != dnnl_success) { fprintf(stderr, "%s failed: %d\n", #call, (int)status_); return 1; } } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int measure(dnnl_engine_t engine, dnnl_stream_t stream, int cin, int cout, int size, dnnl_data_type_t type,
                   dnnl_alg_kind_t alg) {
    // Valid convolution of the padded input, as the network runs it (it pads by reflection first).
    const dnnl_dims_t src_dims = {1, cin, size + 2, size + 2}, wei_dims = {cout, cin, 3, 3}, bias_dims = {cout},
                      dst_dims = {1, cout, size, size}, strides = {1, 1}, pad = {0, 0};
    dnnl_memory_desc_t src, wei, bias, dst, diff_src, diff_wei, diff_dst;
    // bf16 inputs and output gradient; fp32 outputs, input gradient and weight gradient (fp32
    // master weights), as a mixed-precision fit would run them.
    CHECK(dnnl_memory_desc_init_by_tag(&src, 4, src_dims, type, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&wei, 4, wei_dims, type, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&bias, 1, bias_dims, dnnl_f32, dnnl_x));
    CHECK(dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&diff_src, 4, src_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&diff_wei, 4, wei_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&diff_dst, 4, dst_dims, type, dnnl_format_tag_any));
    const char *passes[3] = {"forward", "backward-data", "backward-weights"};
    dnnl_primitive_desc_t forward = NULL;
    for (int pass = 0; pass < 3; pass++) {
        dnnl_convolution_desc_t desc;
        dnnl_primitive_desc_t pd;
        if (pass == 0) {
            CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, alg, &src, &wei, &bias, &dst, strides,
                                                     pad, pad));
        } else if (pass == 1) {
            CHECK(dnnl_convolution_backward_data_desc_init(&desc, alg, &diff_src, &wei, &diff_dst, strides, pad, pad));
        } else {
            CHECK(dnnl_convolution_backward_weights_desc_init(&desc, alg, &src, &diff_wei, &bias, &diff_dst, strides,
                                                              pad, pad));
        }
        if (dnnl_primitive_desc_create(&pd, &desc, NULL, engine, forward) != dnnl_success) {
            printf("%-4s %-8s %-16s: not implemented here\n", type == dnnl_bf16 ? "bf16" : "f32",
                   alg == dnnl_convolution_winograd ? "winograd" : "direct", passes[pass]);
            return 0;
        }
        const char *impl = "?";
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        dnnl_primitive_t primitive;
        CHECK(dnnl_primitive_create(&primitive, pd));
        const struct { int arg; dnnl_query_t query; int index; } ports[] = {
            {DNNL_ARG_SRC, dnnl_query_src_md, 0}, {DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0},
            {DNNL_ARG_BIAS, dnnl_query_weights_md, 1}, {DNNL_ARG_DST, dnnl_query_dst_md, 0},
            {DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0}, {DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0},
            {DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0}, {DNNL_ARG_DIFF_BIAS, dnnl_query_diff_weights_md, 1},
            {DNNL_ARG_SCRATCHPAD, dnnl_query_scratchpad_md, 0}};
        dnnl_exec_arg_t args[9];
        int count = 0;
        for (int i = 0; i < 9; i++) {
            const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, ports[i].query, ports[i].index);
            if (md == NULL || md->ndims == 0) continue;
            CHECK(dnnl_memory_create(&args[count].memory, md, engine, DNNL_MEMORY_ALLOCATE));
            args[count++].arg = ports[i].arg;
        }
        for (int i = 0; i < 2; i++) CHECK(dnnl_primitive_execute(primitive, stream, count, args));
        CHECK(dnnl_stream_wait(stream));
        const int runs = 10;
        const double start = now();
        for (int i = 0; i < runs; i++) CHECK(dnnl_primitive_execute(primitive, stream, count, args));
        CHECK(dnnl_stream_wait(stream));
        const double seconds = (now() - start) / runs;
        printf("%-4s %-8s %-16s: %6.1f ms, %5.0f GFLOP/s (%s)\n", type == dnnl_bf16 ? "bf16" : "f32",
               alg == dnnl_convolution_winograd ? "winograd" : "direct", passes[pass], 1e3 * seconds,
               2.0 * cin * cout * 9 * (double)size * size / seconds / 1e9, impl);
        for (int i = 0; i < count; i++) dnnl_memory_destroy(args[i].memory);
        dnnl_primitive_destroy(primitive);
        if (pass == 0) forward = pd; else dnnl_primitive_desc_destroy(pd);
    }
    dnnl_primitive_desc_destroy(forward);
    return 0;
}

int main(int argc, char **argv) {
    const int cin = argc > 1 ? atoi(argv[1]) : 132, cout = argc > 2 ? atoi(argv[2]) : 128,
              size = argc > 3 ? atoi(argv[3]) : 256;
    if (cin < 1 || cout < 1 || size < 1 || cin > 4096 || cout > 4096 || size > 4096) {
        fprintf(stderr, "usage: %s [CIN COUT SIZE], each from 1 to 4096\n", argv[0]);
        return 2;
    }
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    int status = measure(engine, stream, cin, cout, size, dnnl_f32, dnnl_convolution_direct);
    if (status == 0) status = measure(engine, stream, cin, cout, size, dnnl_f32, dnnl_convolution_winograd);
    if (status == 0) status = measure(engine, stream, cin, cout, size, dnnl_bf16, dnnl_convolution_direct);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return status;
}
