/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SHA-256 (FIPS 180-4), internal to libvsscore.
 */
#ifndef VSS_SHA256_H
#define VSS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define VSS_SHA256_BYTES 32

struct vss_sha256 {
	uint32_t h[8];
	uint64_t bytes;		/* message length so far */
	uint8_t block[64];
	size_t fill;		/* bytes in block */
};

void vss_sha256_init(struct vss_sha256 *s);
void vss_sha256_update(struct vss_sha256 *s, const void *buf, size_t len);
/* The digest of what was given; s must be initialised again before reuse. */
void vss_sha256_final(struct vss_sha256 *s, uint8_t out[VSS_SHA256_BYTES]);
void vss_sha256(const void *buf, size_t len, uint8_t out[VSS_SHA256_BYTES]);

#endif
