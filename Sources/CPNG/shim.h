#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/*
 * A classic-libpng reader for 16-bit files. The simplified API (png_image_*) cannot return
 * raw 16-bit samples: its 16-bit output is "linear", alpha-premultiplied, and converted by any
 * gAMA chunk. libpng reports errors by longjmp, which Swift cannot catch, so the whole
 * decode lives here in C with its own setjmp; Swift only sees a return code and a message.
 */

/* Where the memory reader is in the caller's buffer. */
typedef struct dip_png_source {
    const unsigned char *data;
    size_t size;
    size_t offset;
} dip_png_source;

static inline void dip_png_read_source(png_structp png, png_bytep out, size_t count) {
    dip_png_source *source = (dip_png_source *)png_get_io_ptr(png);
    if (count > source->size - source->offset) {
        png_error(png, "file ends early (truncated)");
    }
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

static inline void dip_png_on_error(png_structp png, png_const_charp message) {
    char *buffer = (char *)png_get_error_ptr(png);
    strncpy(buffer, message, 127);
    buffer[127] = 0;
    png_longjmp(png, 1);
}

static inline void dip_png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/*
 * Decodes a 16-bit PNG (gray, gray+alpha, RGB or RGBA) with no transformation at all: no gamma,
 * no premultiplication, tRNS ignored. Writes width*height*channels big-endian 16-bit samples,
 * interleaved as in the file, into `out` (`out_size` bytes, which must be exactly that size).
 * Returns 0 on success; otherwise 1 with a NUL-terminated reason in `message` (128 bytes).
 */
static inline int dip_png_read16(const unsigned char *data, size_t size,
                                 unsigned char *out, size_t out_size, char *message) {
    dip_png_source source = { data, size, 0 };
    png_bytep *volatile rows = NULL;
    png_structp png;
    png_infop info;
    message[0] = 0;
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, dip_png_on_error, dip_png_on_warning);
    if (png == NULL) {
        strcpy(message, "out of memory");
        return 1;
    }
    info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        strcpy(message, "out of memory");
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    png_set_read_fn(png, &source, dip_png_read_source);
    png_read_info(png, info);
    {
        png_uint_32 width = png_get_image_width(png, info);
        png_uint_32 height = png_get_image_height(png, info);
        size_t channels = png_get_channels(png, info);
        size_t row_bytes = (size_t)width * channels * 2;
        png_uint_32 y;
        if (png_get_bit_depth(png, info) != 16) {
            png_error(png, "not a 16-bit image");
        }
        if (row_bytes * height != out_size) {
            png_error(png, "output buffer size does not match the image");
        }
        png_set_interlace_handling(png);
        png_read_update_info(png, info);
        if (png_get_rowbytes(png, info) != row_bytes) {
            png_error(png, "unexpected row size");
        }
        rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
        if (rows == NULL) {
            png_error(png, "out of memory");
        }
        for (y = 0; y < height; y++) {
            rows[y] = out + (size_t)y * row_bytes;
        }
        png_read_image(png, rows);
        png_read_end(png, NULL);
    }
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}
