"""Central finite differences in the reduced coordinates of one atom (shared by tests)."""

import numpy as np


def atom_gradient(risk, a, s, r, i, h=1e-5):
    """``(∂_{a_i}, ∇_{s_i}, ∂_{r_i})`` of ``risk(a, s, r)`` by central differences."""
    def shifted(which, j, sign):
        aa, ss, rr = a.copy(), s.copy(), r.copy()
        if which == "a":
            aa[i] += sign * h
        elif which == "s":
            ss[i, j] += sign * h
        else:
            rr[i] += sign * h
        return risk(aa, ss, rr)

    g_a = (shifted("a", 0, 1) - shifted("a", 0, -1)) / (2 * h)
    g_s = np.array([(shifted("s", j, 1) - shifted("s", j, -1)) / (2 * h)
                    for j in range(s.shape[1])])
    g_r = (shifted("r", 0, 1) - shifted("r", 0, -1)) / (2 * h)
    return g_a, g_s, g_r
