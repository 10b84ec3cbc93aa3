// The column halves of a row for Sources/DIPEngine/CPU/StrideTwoWinograd.swift, which runs a
// stride-2 convolution as a stride-1 one over its input's four phases (rows and columns even or
// odd): the split of an input row into its even and odd columns, and the merge of two phase rows
// of the input gradient back into one row. Plain loops the compiler vectorises (the shuffles of
// a stride-2 load or store), in C so that they do not depend on the Swift optimiser's choices.
#ifndef DIP_COLUMN_PHASES_H
#define DIP_COLUMN_PHASES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// For X in 0..<count: even[X] = row[2 X], odd[X] = row[2 X + 1], each 0 where its column is not
/// below `width` (the row's length).
void dip_split_column_phases(const float *row, ptrdiff_t width, ptrdiff_t count, float *even, float *odd);

/// For x in 0..<width: row[x] = (x % 2 == 0 ? even : odd)[x / 2] where x < `used`, 0 from `used`
/// on (columns no output reads).
void dip_merge_column_phases(const float *even, const float *odd, ptrdiff_t used, ptrdiff_t width, float *row);

#ifdef __cplusplus
}
#endif

#endif
