#include "column_phases.h"

void dip_split_column_phases(const float *restrict row, ptrdiff_t width, ptrdiff_t count, float *restrict even,
                             float *restrict odd) {
    // Whole pairs inside the row, then the columns past its end.
    ptrdiff_t pairs = width / 2 < count ? width / 2 : count;
    for (ptrdiff_t x = 0; x < pairs; x++) {
        even[x] = row[2 * x];
        odd[x] = row[2 * x + 1];
    }
    for (ptrdiff_t x = pairs; x < count; x++) {
        even[x] = 2 * x < width ? row[2 * x] : 0;
        odd[x] = 2 * x + 1 < width ? row[2 * x + 1] : 0;
    }
}

void dip_merge_column_phases(const float *restrict even, const float *restrict odd, ptrdiff_t used, ptrdiff_t width,
                             float *restrict row) {
    ptrdiff_t end = used < width ? used : width;
    ptrdiff_t pairs = end / 2;
    for (ptrdiff_t x = 0; x < pairs; x++) {
        row[2 * x] = even[x];
        row[2 * x + 1] = odd[x];
    }
    if (2 * pairs < end) row[2 * pairs] = even[pairs];
    for (ptrdiff_t x = end; x < width; x++) row[x] = 0;
}
