#include "move.h"

#include <math.h>

int pg_move_place(double lo, int has_lo, double hi, int has_hi, size_t n, double *out)
{
    size_t j;
    double prev = lo;
    for (j = 0; j < n; j++) {
        double k = (double)(j + 1), s;
        if (has_lo && has_hi) {
            /* lo*(1-t) + hi*t, not lo + (hi-lo)*t: hi - lo may overflow */
            double t = k / (double)(n + 1);
            s = lo * (1 - t) + hi * t;
        } else if (has_lo)
            s = lo + k;
        else if (has_hi)
            s = hi - (double)(n + 1) + k;
        else
            s = k;
        /* the check covers every case: a gap too small, a huge lo where lo + 1 == lo,
         * a hi so negative that hi - n rounds to hi, an overflow to infinity */
        if (!isfinite(s) || ((has_lo || j) && !(s > prev)) || (has_hi && !(s < hi)))
            return 0;
        out[j] = prev = s;
    }
    return 1;
}
