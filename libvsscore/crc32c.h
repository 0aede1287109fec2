/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crc32c (Castagnoli), internal to libvsscore.
 */
#ifndef VSS_CRC32C_H
#define VSS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * The reflected crc32c of buf, continuing from seed.  Same contract as the
 * kernel's crc32c(seed, buf, len) (lib/libcrc32c): no inversion is applied
 * inside, so crc32c(0xFFFFFFFF, ...) ^ 0xFFFFFFFF is the standard CRC-32C.
 */
uint32_t vss_crc32c(uint32_t seed, const void *buf, size_t len);

#endif
