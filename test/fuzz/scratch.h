/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A scratch directory for a fuzz target, removed when the target exits. */
#ifndef FUZZ_SCRATCH_H
#define FUZZ_SCRATCH_H

/* A new directory $TMPDIR/<name>.XXXXXX (or under /tmp); aborts on failure. */
const char *scratch_dir(const char *name);

#endif
