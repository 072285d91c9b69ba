/* Where moved items go (spec section 14): the sort orders of n items placed
 * between two neighbours, and when there is no room for them. Pure math: no
 * storage, no SQL. */
#ifndef PG_MOVE_H
#define PG_MOVE_H

#include <stddef.h>

/* Sort orders for n items (n >= 1) after `lo` (when has_lo) and before `hi`
 * (when has_hi), evenly spaced, into out[0..n-1]. 1 when they are finite and
 * strictly increasing from lo to hi (lo < out[0] < ... < out[n-1] < hi), 0 when
 * the doubles between the neighbours leave no room for them: the gallery must be
 * renumbered first. Without lo they end 1 below hi; without hi they count on from
 * lo by 1; with neither they are 1, 2, ..., n. */
int pg_move_place(double lo, int has_lo, double hi, int has_hi, size_t n, double *out);

#endif
