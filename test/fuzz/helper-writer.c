// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The writer that fuzz-writer runs (built without sanitizers): for each
 * request line it reads on stdin it answers with the next line of the
 * file $FUZZ_WRITER_ANSWERS; when the lines run out it writes what is
 * left (no newline) and exits, as a writer that dies mid-answer.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(1, p, len);

		if (n <= 0)
			exit(0);
		p += n;
		len -= n;
	}
}

int main(void)
{
	const char *path = getenv("FUZZ_WRITER_ANSWERS");
	static char buf[1 << 20], req[1 << 16];
	size_t len = 0, off = 0;
	FILE *f;

	if (!path || !(f = fopen(path, "rb")))
		return 1;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (fgets(req, sizeof(req), stdin)) {
		char *nl = memchr(buf + off, '\n', len - off);

		if (!nl) {
			put(buf + off, len - off);
			return 0;
		}
		put(buf + off, nl + 1 - (buf + off));
		off = nl + 1 - buf;
	}
	return 0;
}
